import Foundation

extension LearningRateSweep {
    /// The curve on a log-rate axis as an SVG (`width` × `height` px), the suggestions marked.
    public func svg(width: Int = 640, height: Int = 360) -> String {
        guard rates.count >= 2, let low = losses.min(), let high = losses.max() else { return "<svg/>" }
        let (left, right, top, bottom) = (60.0, Double(width) - 20, 20.0, Double(height) - 40)
        let (first, last) = (log10(Double(rates[0])), log10(Double(rates[rates.count - 1])))
        let span = max(Double(high - low), 1e-9)
        func x(_ rate: Float) -> Double {
            left + (log10(Double(rate)) - first) / max(last - first, 1e-9) * (right - left)
        }
        func y(_ loss: Float) -> Double { bottom - Double(loss - low) / span * (bottom - top) }
        let points = zip(rates, losses).map { String(format: "%.1f,%.1f", x($0), y($1)) }.joined(separator: " ")
        var marks = ""
        if let s = suggestions {
            for (name, rate, color) in [
                ("valley", s.valley, "#d62728"), ("steep", s.steep, "#2ca02c"), ("minimum", s.minimum, "#9467bd"),
                ("slide", s.slide, "#ff7f0e"), ("edge", s.edge, "#17becf"),
            ] {
                let px = x(rate)
                marks += String(
                    format:
                        "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"%@\" stroke-dasharray=\"4 3\"/>"
                        + "<text x=\"%.1f\" y=\"%.0f\" fill=\"%@\" font-size=\"12\">%@ %.1e</text>",
                    px, px, top, bottom, color, px + 3, top + 12, color, name, Double(rate))
            }
        }
        var ticks = ""
        for decade in Int(first.rounded(.up))...max(Int(first.rounded(.up)), Int(last.rounded(.down))) {
            let px = left + (Double(decade) - first) / max(last - first, 1e-9) * (right - left)
            ticks += String(
                format:
                    "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#999\"/><text x=\"%.1f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"middle\">1e%d</text>",
                px, px, bottom, bottom + 5, px, bottom + 18, decade)
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" font-family="sans-serif">\
            <rect x="\(left)" y="\(top)" width="\(right - left)" height="\(bottom - top)" fill="none" stroke="#999"/>\
            \(ticks)<text x="\((left + right) / 2)" y="\(Double(height) - 5)" font-size="12" text-anchor="middle">learning rate</text>\
            <text x="12" y="\((top + bottom) / 2)" font-size="12" transform="rotate(-90 12 \((top + bottom) / 2))" text-anchor="middle">smoothed loss</text>\
            <text x="\(left - 5)" y="\(top + 4)" font-size="11" text-anchor="end">\(String(format: "%.3g", high))</text>\
            <text x="\(left - 5)" y="\(bottom)" font-size="11" text-anchor="end">\(String(format: "%.3g", low))</text>\
            <polyline fill="none" stroke="#1f77b4" stroke-width="2" points="\(points)"/>\(marks)</svg>
            """
    }

    /// A page with the plot, the suggestions and the recorded points.
    public func html(model: String, data: String) -> String {
        let lines = suggestionLines.map { "<li>\($0)</li>" }.joined()
        return """
            <!DOCTYPE html><html><head><meta charset="utf-8"><title>Learning-rate sweep</title>
            <style>body{font-family:sans-serif;margin:2em}</style></head><body>
            <h1>Learning-rate sweep</h1><p>Model <code>\(model)</code>, data <code>\(data)</code>: \(rates.count) steps
            from \(String(format: "%.1e", Double(rates.first ?? 0))) to \(String(format: "%.1e", Double(rates.last ?? 0))),
            the loss smoothed as fastai's <code>lr_find</code> smooths it; the weights were restored afterwards.</p>
            \(svg())<ul>\(lines)</ul></body></html>
            """
    }

    /// One line per suggestion, edge first (what `finetune --lr auto` takes).
    public var suggestionLines: [String] {
        guard let s = suggestions else {
            return [
                "the sweep stopped after \(rates.count) steps, too early to suggest a rate; lower --start or raise --steps"
            ]
        }
        return [
            String(
                format: "edge    %.2e  (finetune --lr auto's rule: half the rate where the loss starts to diverge)",
                Double(s.edge)),
            String(format: "valley  %.2e  (fastai's default: about 2/3 down the longest descent)", Double(s.valley)),
            String(format: "steep   %.2e  (the steepest descent)", Double(s.steep)),
            String(format: "minimum %.2e  (a tenth of the rate at the lowest loss)", Double(s.minimum)),
            String(format: "slide   %.2e  (where the curve flattens into its minimum)", Double(s.slide)),
        ]
    }

    /// The curve as `rows` lines of text for a terminal: rates left to right (log scale), loss up.
    public func terminalPlot(columns: Int = 60, rows: Int = 12) -> String {
        guard rates.count >= 2, let low = losses.min(), let high = losses.max() else { return "" }
        var grid = Array(repeating: Array(repeating: Character(" "), count: columns), count: rows)
        let (first, last) = (log10(Double(rates[0])), log10(Double(rates[rates.count - 1])))
        for (rate, loss) in zip(rates, losses) {
            let column = Int(((log10(Double(rate)) - first) / max(last - first, 1e-9) * Double(columns - 1)).rounded())
            let row = Int((Double(high - loss) / max(Double(high - low), 1e-9) * Double(rows - 1)).rounded())
            grid[min(max(row, 0), rows - 1)][min(max(column, 0), columns - 1)] = "*"
        }
        let body = grid.enumerated().map { index, line in
            (index == 0
                ? String(format: "%8.3g |", high) : index == rows - 1 ? String(format: "%8.3g |", low) : "         |")
                + String(line)
        }
        let axis = "         +" + String(repeating: "-", count: columns)
        let (from, to) = (
            String(format: "%.0e", Double(rates[0])), String(format: "%.0e", Double(rates[rates.count - 1]))
        )
        let labels = "          " + from + String(repeating: " ", count: max(columns - from.count - to.count, 1)) + to
        return (body + [axis, labels]).joined(separator: "\n")
    }
}
