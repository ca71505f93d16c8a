import SightlineCore
import SightlineNN

/// How far a graph's outputs under reduced precision are from the same graph in fp32, on the
/// same input: the figures `bench --precision` reports and `--help` quotes.
enum PrecisionDeviation {
    /// Runs `graph` with its engine options and again in fp32, at its output and at the input of
    /// its final layer (the pooled features a head reads). Returns, as JSON fields,
    /// `max |reduced − fp32| / max |fp32|` for both and the share of images whose top class agrees.
    static func measure(_ graph: Graph, input: Tensor) throws -> [String: Double] {
        guard let inputName = graph.inputNames.first, let output = graph.outputNames.first,
            let features = graph.nodes.first(where: { $0.name == output })?.inputs.first
        else { return [:] }
        let reduced = try graph.forward([inputName: input], outputs: [features, output])
        let saved = graph.engineOptions
        defer { graph.engineOptions = saved }
        graph.engineOptions.precision = .fp32
        let exact = try graph.forward([inputName: input], outputs: [features, output])
        guard let a = reduced[output], let b = exact[output], let fa = reduced[features], let fb = exact[features]
        else { return [:] }
        let classes = b.shape.last ?? 1
        let rows = b.count / max(classes, 1)
        var agree = 0
        for row in 0..<rows {
            let range = row * classes..<(row + 1) * classes
            let top = { (t: Tensor) in range.max { t.scalars[$0] < t.scalars[$1] } }
            if top(a) == top(b) { agree += 1 }
        }
        return [
            "output_deviation_from_fp32": relative(a, b), "feature_deviation_from_fp32": relative(fa, fb),
            "top1_agreement_with_fp32": Double(agree) / Double(max(rows, 1)),
        ]
    }

    /// `max |a − b| / max |b|`.
    static func relative(_ a: Tensor, _ b: Tensor) -> Double {
        let scale = b.scalars.reduce(Float(0)) { max($0, abs($1)) }
        let worst = zip(a.scalars, b.scalars).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        return Double(worst / max(scale, .leastNormalMagnitude))
    }
}
