import Foundation
import SightlineVision

/// `evaluate --report DIR`: one self-contained HTML page with the confusion matrix as a
/// picture, per-class precision/recall/F1 bars (SVG drawn here, no Python step) and thumbnails
/// of the most confident mistakes; plus the figures as text a reader can copy.
public enum EvaluationReport {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// The confusion matrix as an SVG grid: rows are true classes, columns predictions, each
    /// cell shaded by its share of the row and labelled with its count.
    public static func confusionSVG(_ evaluation: Evaluation) -> String {
        // Room for the longest class name, rotated above the columns and left of the rows.
        let n = evaluation.classNames.count
        let cell = n > 20 ? 18 : 40
        let margin = 20 + 6 * min(20, evaluation.classNames.map(\.count).max() ?? 1)
        let size = margin + n * cell
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"confusion matrix\" width=\"\(size + 10)\" height=\"\(size + 10)\" font-family=\"sans-serif\" font-size=\"11\">"
        for (row, counts) in evaluation.confusion.enumerated() {
            let total = max(counts.reduce(0, +), 1)
            svg +=
                "<text x=\"\(margin - 6)\" y=\"\(margin + row * cell + cell / 2 + 4)\" text-anchor=\"end\">\(escape(evaluation.classNames[row]))</text>"
            for (column, count) in counts.enumerated() {
                let share = Double(count) / Double(total)
                let shade = Int(255 - share * 200)
                svg +=
                    "<rect x=\"\(margin + column * cell)\" y=\"\(margin + row * cell)\" width=\"\(cell)\" height=\"\(cell)\" fill=\"rgb(\(shade),\(shade),255)\" stroke=\"#ccc\"><title>true \(escape(evaluation.classNames[row])), predicted \(escape(evaluation.classNames[column])): \(count)</title></rect>"
                if cell >= 30 {
                    svg +=
                        "<text x=\"\(margin + column * cell + cell / 2)\" y=\"\(margin + row * cell + cell / 2 + 4)\" text-anchor=\"middle\">\(count)</text>"
                }
            }
        }
        for (column, name) in evaluation.classNames.enumerated() {
            let x = margin + column * cell + cell / 2
            svg += "<text transform=\"translate(\(x),\(margin - 6)) rotate(-60)\">\(escape(name))</text>"
        }
        return svg + "<text x=\"\(margin)\" y=\"\(size + 8)\">rows: true class · columns: predicted</text></svg>"
    }

    /// Horizontal bars of precision, recall and F1 per class.
    public static func barsSVG(_ evaluation: Evaluation) -> String {
        let figures = evaluation.perClass
        let rowHeight = 42
        let width = 300
        let margin = 130
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"per-class precision, recall and F1\" width=\"\(margin + width + 60)\" height=\"\(figures.count * rowHeight + 20)\" font-family=\"sans-serif\" font-size=\"11\">"
        let colours = [("precision", "#4e79a7"), ("recall", "#f28e2b"), ("F1", "#59a14f")]
        svg = svg.replacingOccurrences(
            of: "height=\"\(figures.count * rowHeight + 20)\"", with: "height=\"\(figures.count * rowHeight + 40)\"")
        for (k, (label, colour)) in colours.enumerated() {
            svg +=
                "<rect x=\"\(margin + k * 90)\" y=\"\(figures.count * rowHeight + 20)\" width=\"10\" height=\"10\" fill=\"\(colour)\"/><text x=\"\(margin + k * 90 + 14)\" y=\"\(figures.count * rowHeight + 29)\">\(label)</text>"
        }
        for (index, figure) in figures.enumerated() {
            let y = index * rowHeight + 4
            svg +=
                "<text x=\"\(margin - 6)\" y=\"\(y + 20)\" text-anchor=\"end\">\(escape(evaluation.classNames[index])) (\(figure.support))</text>"
            for (k, value) in [figure.precision, figure.recall, figure.f1].enumerated() {
                let length = Int((value * Double(width)).rounded())
                svg +=
                    "<rect x=\"\(margin)\" y=\"\(y + k * 12)\" width=\"\(max(length, 1))\" height=\"10\" fill=\"\(colours[k].1)\"><title>\(colours[k].0) \(String(format: "%.3f", value))</title></rect>"
                svg +=
                    "<text x=\"\(margin + length + 4)\" y=\"\(y + k * 12 + 9)\">\(String(format: "%.2f", value))</text>"
            }
        }
        return svg + "</svg>"
    }

    /// How many of the most confident mistakes the report shows.
    public static let mistakesShown = 24

    /// `image` scaled to at most `size` pixels on its longer side, as base64 JPEG for an `<img>`.
    public static func thumbnail(_ image: RGBImage, size: Int = 160) -> String? {
        let scale = Double(size) / Double(max(image.width, image.height))
        let thumbnail = Resize.bilinear(
            image.tensor, height: max(1, Int(Double(image.height) * scale)),
            width: max(1, Int(Double(image.width) * scale)))
        let pixels = thumbnail.scalars.map { UInt8(min(255, max(0, $0.rounded()))) }
        return try? RGBImage(width: thumbnail.shape[1], height: thumbnail.shape[0], pixels: pixels).jpegData(
            quality: 85
        ).base64EncodedString()
    }

    /// The evaluation as an HTML fragment: figures, confusion matrix, bars, table, mistakes (with
    /// `explanations[path]`, an HTML fragment, under a mistake's thumbnail when given).
    public static func section(
        _ evaluation: Evaluation, thumbnails: Int = mistakesShown, explanations: [String: String] = [:]
    )
        -> String
    {
        let figures = evaluation.perClass
        let rows = figures.enumerated().map { index, f in
            "<tr><td>\(escape(evaluation.classNames[index]))</td><td>\(String(format: "%.3f", f.precision))</td><td>\(String(format: "%.3f", f.recall))</td><td>\(String(format: "%.3f", f.f1))</td><td>\(f.support)</td></tr>"
        }.joined()
        let mistakes = evaluation.mistakes.prefix(thumbnails).map { mistake -> String in
            let picture = (try? RGBImage(contentsOf: mistake.path)).flatMap { thumbnail($0) }
            let image =
                picture.map { "<img alt=\"\(escape(mistake.path))\" src=\"data:image/jpeg;base64,\($0)\">" } ?? ""
            return
                "<figure>\(image)<figcaption>\(escape((mistake.path as NSString).lastPathComponent))<br>true \(escape(evaluation.classNames[mistake.trueClass])) (\(String(format: "%.2f", mistake.trueProbability)))<br>predicted \(escape(evaluation.classNames[mistake.predicted])) (\(String(format: "%.2f", mistake.confidence)))\(explanations[mistake.path] ?? "")</figcaption></figure>"
        }.joined()
        let skipped =
            evaluation.skipped.isEmpty
            ? ""
            : "<h2>Skipped</h2><ul>"
                + evaluation.skipped.map { "<li>\(escape($0.path)): \(escape($0.reason))</li>" }.joined() + "</ul>"
        return """
            <p><b>top-1 accuracy \(String(format: "%.4f", evaluation.top1Accuracy))</b> · top-\(evaluation.topK) accuracy \(String(format: "%.4f", evaluation.topKAccuracy)) · \(evaluation.count) images · \(evaluation.mistakes.count) misclassified</p>
            <h2>Confusion matrix</h2>\(confusionSVG(evaluation))
            <h2>Per class</h2>\(barsSVG(evaluation))
            <table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>\(rows)</table>
            <h2>Most confident mistakes</h2>\(mistakes.isEmpty ? "<p>None.</p>" : mistakes)
            \(interpretation(evaluation))
            \(skipped)
            """
    }

    /// fastai's interpretation: the most-confused pairs and the highest-loss images.
    static func interpretation(_ e: Evaluation) -> String {
        let names = e.classNames
        let confused = e.mostConfused().prefix(10).map {
            "<tr><td>\(escape(names[$0.actual]))</td><td>\(escape(names[$0.predicted]))</td><td>\($0.count)</td></tr>"
        }.joined()
        let losses = e.topLosses.prefix(10).map {
            "<tr><td>\(escape($0.path))</td><td>\(escape(names[$0.trueClass]))</td><td>\(escape(names[$0.predicted]))</td><td>\(String(format: "%.3f", $0.loss))</td><td>\(String(format: "%.3f", $0.trueProbability))</td></tr>"
        }.joined()
        return """
            <h2>Most confused</h2>\(confused.isEmpty ? "<p>None.</p>" : "<table><tr><th>true class</th><th>predicted</th><th>images</th></tr>\(confused)</table>")
            <h2>Top losses</h2><table><tr><th>image</th><th>true class</th><th>predicted</th><th>loss −ln p</th><th>p(true)</th></tr>\(losses)</table>
            """
    }

    static let style =
        "<style>body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}td:first-child{text-align:left}figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top;font-size:12px}</style>"

    public static func html(
        _ evaluation: Evaluation, model: String, data: String, thumbnails: Int = mistakesShown,
        explanations: [String: String] = [:]
    ) -> String {
        """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sightline evaluation</title>\(style)</head><body>
        <h1>Evaluation</h1>
        <p>model \(escape(model)) · data \(escape(data))</p>
        \(section(evaluation, thumbnails: thumbnails, explanations: explanations))
        </body></html>
        """
    }
}
