import SightlineCore
import SightlineNN

/// RISE (Petsiuk et al., 2018, "Randomized Input Sampling for Explanation of Black-box Models")
/// as the authors' code (eclique/RISE, `explanations.py`) computes it: `masks` random binary
/// grids of `grid` × `grid` cells, each kept with probability `probability`, upsampled bilinearly
/// to `(grid + 1)` cells of `ceil(H / grid)` pixels (scikit-image's `resize`, order 1, mode
/// `reflect`) and cropped at a random shift within one cell, give soft masks M_i of the input's
/// size; the map is Σ_i P(class | b + M_i·(x − b)) · M_i / (N · p), where P is the softmax of the
/// logits and b the baseline (zero after preprocessing by default, the authors' masking). Grids
/// and shifts are drawn from a generator seeded with `seed`, so a map is reproducible; masks are
/// made a batch at a time, so memory does not grow with `masks`. `masks` forward passes per image.
public struct RISE: Sendable, Equatable {
    public var masks: Int
    public var grid: Int
    public var probability: Float
    public var seed: UInt64

    /// The paper's ImageNet settings with fewer masks by default (it used 4000).
    public init(masks: Int = 1000, grid: Int = 7, probability: Float = 0.5, seed: UInt64 = 0) {
        (self.masks, self.grid, self.probability, self.seed) = (masks, grid, probability, seed)
    }

    /// One mask's grid (`grid` × `grid`, row-major, 0 or 1) and its shift in pixels (rows, columns).
    public struct Draw: Sendable, Equatable {
        public var cells: [Float]
        public var shift: (Int, Int)
        public init(cells: [Float], shift: (Int, Int)) { (self.cells, self.shift) = (cells, shift) }
        public static func == (a: Draw, b: Draw) -> Bool { a.cells == b.cells && a.shift == b.shift }
    }

    /// The seeded draws for an input of `height` × `width`.
    public func draws(height: Int, width: Int) -> [Draw] {
        var generator = SeededGenerator(seed: seed)
        let cell = ((height + grid - 1) / grid, (width + grid - 1) / grid)
        return (0..<masks).map { _ in
            let cells = (0..<(grid * grid)).map { _ in generator.nextUnitFloat() < probability ? Float(1) : 0 }
            let shift = (Int(generator.next() % UInt64(cell.0)), Int(generator.next() % UInt64(cell.1)))
            return Draw(cells: cells, shift: shift)
        }
    }

    /// A draw's mask `[height · width]`: its grid upsampled to `(grid + 1) · cell` pixels and cropped.
    public func mask(_ draw: Draw, height: Int, width: Int) -> [Float] {
        let cell = ((height + grid - 1) / grid, (width + grid - 1) / grid)
        let up = ((grid + 1) * cell.0, (grid + 1) * cell.1)
        /// scikit-image's order-1 sample along one axis: half-pixel centres, mirrored edges.
        func taps(_ position: Int, _ outSize: Int) -> (Int, Int, Float) {
            let source = (Double(position) + 0.5) * Double(grid) / Double(outSize) - 0.5
            let low = Int(source.rounded(.down))
            func mirrored(_ i: Int) -> Int {
                guard grid > 1 else { return 0 }
                let period = 2 * (grid - 1)
                let m = ((i % period) + period) % period
                return m < grid ? m : period - m
            }
            return (mirrored(low), mirrored(low + 1), Float(source - Double(low)))
        }
        let rows = (0..<height).map { taps($0 + draw.shift.0, up.0) }
        let columns = (0..<width).map { taps($0 + draw.shift.1, up.1) }
        var out = [Float](repeating: 0, count: height * width)
        for (y, (r0, r1, fy)) in rows.enumerated() {
            for (x, (c0, c1, fx)) in columns.enumerated() {
                let top = draw.cells[r0 * grid + c0] * (1 - fx) + draw.cells[r0 * grid + c1] * fx
                let bottom = draw.cells[r1 * grid + c0] * (1 - fx) + draw.cells[r1 * grid + c1] * fx
                out[y * width + x] = top * (1 - fy) + bottom * fy
            }
        }
        return out
    }

    /// The maps `[N, H, W]` for preprocessed `images` `[N, H, W, C]` and each image's class;
    /// `draws` replaces the seeded ones (tests replay a reference's masks).
    public func maps(
        _ cam: ClassActivationMaps, images: Tensor, classes: [Int], baseline: AttributionBaseline = .zero,
        draws given: [Draw]? = nil, batch: Int = 32
    ) throws -> Tensor {
        guard let input = cam.logits.inputNames.first else {
            throw ClassActivationMaps.CAMError(
                subject: "the model", "has no input node; explain a model that takes images")
        }
        let (n, height, width, depth) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        let draws = given ?? self.draws(height: height, width: width)
        let baselines = baseline.tensor(for: images)
        let pixels = height * width
        var result = [Float](repeating: 0, count: n * pixels)
        for start in stride(from: 0, to: draws.count, by: batch) {
            let chunk = draws[start..<min(start + batch, draws.count)].map { mask($0, height: height, width: width) }
            for image in 0..<n {
                let base = image * pixels * depth
                let masked = Tensor(shape: [chunk.count, height, width, depth]) { out in
                    for (row, m) in chunk.enumerated() {
                        for p in 0..<pixels {
                            for c in 0..<depth {
                                let i = base + p * depth + c
                                let b = baselines.scalars[i]
                                out[(row * pixels + p) * depth + c] = b + m[p] * (images.scalars[i] - b)
                            }
                        }
                    }
                }
                guard let logits = try cam.logits.forward([input: masked], outputs: [cam.scoreNode])[cam.scoreNode]
                else { continue }
                let probabilities = ActivationFunction.softmax.applied(to: logits)
                let classCount = probabilities.shape[1]
                for (row, m) in chunk.enumerated() {
                    let p = probabilities.scalars[row * classCount + classes[image]]
                    for q in 0..<pixels { result[image * pixels + q] += p * m[q] }
                }
            }
        }
        let scale = 1 / (Float(max(draws.count, 1)) * probability)
        return Tensor(shape: [n, height, width], scalars: result.map { $0 * scale })
    }
}
