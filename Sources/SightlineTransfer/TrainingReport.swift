import Foundation

/// `OUTPUT.training.html`, written by `finetune` after every epoch: loss and accuracy curves
/// (training and validation) per phase, the learning-rate schedule, and at the end the
/// evaluation of the kept model on the validation part. Plots are SVG drawn here.
public enum TrainingReport {
    /// One line of a chart: a name, a colour and (x, y) points.
    struct Series {
        var name: String
        var colour: String
        var points: [(Double, Double)]
    }

    /// A line chart with axes, ticks, a legend and dashed lines at `markers` (phase starts).
    static func chart(_ title: String, _ series: [Series], markers: [(Double, String)] = [], logScale: Bool = false)
        -> String
    {
        let width = 560.0
        let height = 240.0
        let left = 60.0
        let bottom = 30.0
        let top = 20.0
        let right = 120.0
        let all = series.flatMap(\.points)
        guard !all.isEmpty else { return "" }
        func transform(_ y: Double) -> Double { logScale ? log10(max(y, 1e-12)) : y }
        let xs = all.map(\.0)
        let ys = all.map { transform($0.1) }
        let (x0, x1) = (xs.min() ?? 0, max(xs.max() ?? 1, (xs.min() ?? 0) + 1))
        var (y0, y1) = (ys.min() ?? 0, ys.max() ?? 1)
        if y1 - y0 < 1e-9 { (y0, y1) = (y0 - 0.5, y1 + 0.5) }
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * (width - left - right) }
        func py(_ y: Double) -> Double { top + (1 - (transform(y) - y0) / (y1 - y0)) * (height - top - bottom) }
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"\(EvaluationReport.escape(title))\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">"
        svg += "<text x=\"\(left)\" y=\"13\" font-weight=\"bold\">\(EvaluationReport.escape(title))</text>"
        svg +=
            "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"#888\"/><line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"#888\"/>"
        for k in 0...4 {
            let value = y0 + (y1 - y0) * Double(k) / 4
            let y = top + (1 - Double(k) / 4) * (height - top - bottom)
            let label = logScale ? String(format: "%.1e", pow(10, value)) : String(format: "%.3g", value)
            svg += "<text x=\"\(left - 4)\" y=\"\(y + 4)\" text-anchor=\"end\">\(label)</text>"
        }
        svg += "<text x=\"\((left + width - right) / 2)\" y=\"\(height - 6)\" text-anchor=\"middle\">epoch</text>"
        for (x, label) in markers {
            svg +=
                "<line x1=\"\(px(x))\" y1=\"\(top)\" x2=\"\(px(x))\" y2=\"\(height - bottom)\" stroke=\"#aaa\" stroke-dasharray=\"4 3\"/><text x=\"\(px(x) + 3)\" y=\"\(top + 10)\" fill=\"#666\">\(label)</text>"
        }
        for (index, line) in series.enumerated() where !line.points.isEmpty {
            let path = line.points.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            svg +=
                "<polyline fill=\"none\" stroke=\"\(line.colour)\" stroke-width=\"2\" points=\"\(path)\"><title>\(EvaluationReport.escape(line.name))</title></polyline>"
            for point in line.points {
                svg +=
                    "<circle cx=\"\(String(format: "%.1f", px(point.0)))\" cy=\"\(String(format: "%.1f", py(point.1)))\" r=\"2.5\" fill=\"\(line.colour)\"/>"
            }
            svg +=
                "<text x=\"\(width - right + 8)\" y=\"\(top + 14 * Double(index + 1))\" fill=\"\(line.colour)\">\(EvaluationReport.escape(line.name))</text>"
        }
        return svg + "</svg>"
    }

    /// The page for `history` (epochs numbered across phases) and the final `evaluation`.
    public static func html(
        _ history: [FineTuner.EpochRecord], evaluation: Evaluation?, model: String, data: String?,
        recipe: String? = nil
    ) -> String {
        let indexed = history.enumerated().map { (Double($0.offset + 1), $0.element) }
        let markers = indexed.filter { $0.1.epoch == 1 }.map { ($0.0 - 0.5, "phase \($0.1.phase)") }
        func series(_ name: String, _ colour: String, _ value: (FineTuner.EpochRecord) -> Double?) -> Series {
            Series(
                name: name, colour: colour, points: indexed.compactMap { x, record in value(record).map { (x, $0) } })
        }
        let loss = chart(
            "loss (cross-entropy)",
            [
                series("training", "#4e79a7") { Double($0.loss) },
                series("validation", "#e15759") { $0.validationLoss.map(Double.init) },
            ], markers: markers)
        let accuracy = chart(
            "accuracy",
            [
                series("training", "#4e79a7") { $0.trainingAccuracy },
                series("validation", "#e15759") { $0.validationAccuracy },
            ], markers: markers)
        let rate = chart(
            "learning rate", [series("learning rate", "#59a14f") { Double($0.learningRate) }], markers: markers,
            logScale: true)
        let rows = history.map { r in
            "<tr><td>\(r.phase)</td><td>\(r.epoch)</td><td>\(String(format: "%.2g", r.learningRate))</td><td>\(String(format: "%.4f", r.loss))</td><td>\(String(format: "%.3f", r.trainingAccuracy))</td><td>\(r.validationLoss.map { String(format: "%.4f", $0) } ?? "")</td><td>\(r.validationAccuracy.map { String(format: "%.3f", $0) } ?? "")</td></tr>"
        }.joined()
        let evaluated =
            evaluation.map {
                "<h2>Evaluation of the kept model on the validation part</h2>" + EvaluationReport.section($0)
            } ?? "<p>No validation part: nothing to evaluate.</p>"
        return """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sightline training</title>\(EvaluationReport.style)</head><body>
            <h1>Fine-tuning</h1><p>model \(EvaluationReport.escape(model))\(data.map { " · data " + EvaluationReport.escape($0) } ?? "") · \(history.count) epochs</p>\(recipe.map { "<p>recipe " + EvaluationReport.escape($0) + "</p>" } ?? "")
            \(loss)\(accuracy)\(rate)
            <table><tr><th>phase</th><th>epoch</th><th>lr</th><th>loss</th><th>training accuracy</th><th>validation loss</th><th>validation accuracy</th></tr>\(rows)</table>
            \(evaluated)
            </body></html>
            """
    }
}
