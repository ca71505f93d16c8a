extension Graph {
    /// Up to `limit` node names closest to `name` (edit distance, ties in graph order), for
    /// "no such layer; did you mean …" errors.
    public func suggestions(for name: String, limit: Int = 3) -> [String] {
        let target = Array(name.lowercased())
        func distance(_ other: String) -> Int {
            let b = Array(other.lowercased())
            var previous = Array(0...b.count)
            for (i, x) in target.enumerated() {
                var current = [i + 1] + Array(repeating: 0, count: b.count)
                for (j, y) in b.enumerated() {
                    current[j + 1] = Swift.min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))
                }
                previous = current
            }
            return previous[b.count]
        }
        let scored = nodes.map { ($0.name, distance($0.name)) }
        return scored.enumerated().sorted { ($0.element.1, $0.offset) < ($1.element.1, $1.offset) }.prefix(limit).map(
            \.element.0)
    }

    /// "no layer 'NAME' in the model; did you mean 'A', 'B' or 'C'? (`sightline inspect` lists them)"
    public func unknownLayerMessage(_ name: String) -> String {
        let close = suggestions(for: name).map { "'\($0)'" }
        let options =
            close.count > 1 ? close.dropLast().joined(separator: ", ") + " or " + (close.last ?? "") : close.first ?? ""
        return "no layer '\(name)' in the model; did you mean \(options)? (`sightline inspect MODEL` lists them)"
    }
}
