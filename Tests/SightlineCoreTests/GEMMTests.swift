import Foundation
import SightlineCore
import Testing

/// Both GEMM backends against a naive double-precision product, with every transpose.
struct GEMMTests {
    @Test(arguments: GEMMBackend.allCases, [(false, false), (false, true), (true, false), (true, true)])
    func productMatchesNaiveReference(_ backend: GEMMBackend, _ transposes: (Bool, Bool)) {
        let (ta, tb) = transposes
        let m = 7
        let n = 5
        let k = 9
        var generator = SeededGenerator(seed: 1)
        let a = (0..<(m * k)).map { _ in generator.nextNormal() }
        let b = (0..<(k * n)).map { _ in generator.nextNormal() }
        var c = (0..<(m * n)).map { _ in generator.nextNormal() }
        let c0 = c
        func at(_ i: Int, _ p: Int) -> Double { Double(ta ? a[p * m + i] : a[i * k + p]) }
        func bt(_ p: Int, _ j: Int) -> Double { Double(tb ? b[j * k + p] : b[p * n + j]) }
        GEMM.multiply(
            transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 2, a: a, lda: ta ? m : k, b: b, ldb: tb ? k : n,
            beta: 0.5, c: &c, ldc: n, backend: backend)
        for i in 0..<m {
            for j in 0..<n {
                let expected = 2 * (0..<k).reduce(0) { $0 + at(i, $1) * bt($1, j) } + 0.5 * Double(c0[i * n + j])
                #expect(
                    abs(Double(c[i * n + j]) - expected) < 1e-4, "C[\(i),\(j)] = \(c[i * n + j]), expected \(expected)")
            }
        }
    }
}

/// Window geometry and patch extraction.
struct WindowTests {
    @Test func kerasPaddingFormulas() {
        // `same` with stride 2 pads the extra row at the bottom/right, as TensorFlow does.
        let same = WindowGeometry(inputHeight: 224, inputWidth: 224, kernel: (3, 3), strides: (2, 2), padding: .same)
        #expect(same.outputHeight == 112 && same.padTop == 0)
        let odd = WindowGeometry(inputHeight: 7, inputWidth: 6, kernel: (3, 3), strides: (2, 2), padding: .same)
        #expect(odd.outputHeight == 4 && odd.outputWidth == 3 && odd.padTop == 1 && odd.padLeft == 0)
        let valid = WindowGeometry(inputHeight: 230, inputWidth: 230, kernel: (7, 7), strides: (2, 2), padding: .valid)
        #expect(valid.outputHeight == 112)
        let dilated = WindowGeometry(inputHeight: 10, inputWidth: 10, kernel: (3, 3), dilation: (2, 2), padding: .valid)
        #expect(dilated.outputHeight == 6)
        #expect(WindowGeometry(inputHeight: 5, inputWidth: 5, kernel: (1, 1), padding: .valid).isPointwise)
    }

    @Test func scatterAddIsTheAdjointOfGather() {
        // <gather(x), y> == <x, scatter(y)> for random x, y: col2im is exactly im2col's transpose.
        let g = WindowGeometry(
            inputHeight: 6, inputWidth: 5, kernel: (3, 2), strides: (2, 1), dilation: (1, 2), padding: .same)
        let channels = 3
        let n = 2
        let rows = n * g.outputHeight * g.outputWidth
        let patch = 3 * 2 * channels
        var generator = SeededGenerator(seed: 4)
        let x = (0..<(n * 6 * 5 * channels)).map { _ in generator.nextNormal() }
        let y = (0..<(rows * patch)).map { _ in generator.nextNormal() }
        var columns = [Float](repeating: 0, count: rows * patch)
        var back = [Float](repeating: 0, count: x.count)
        Im2Col.gather(input: x, channels: channels, geometry: g, rows: 0..<rows, columns: &columns)
        Im2Col.scatterAdd(columns: y, channels: channels, geometry: g, rows: 0..<rows, inputGradient: &back)
        let left = zip(columns, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let right = zip(x, back).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(left - right) < 1e-3 * max(1, abs(left)))
    }
}
