import Foundation

/// Which explanation to trust for this model on these images: every method's faithfulness
/// metrics over the same images, ranked (`gradcam --method all --metrics`). No peer answers this:
/// pytorch-grad-cam and Captum compute the methods and some metrics, but leave the comparison to
/// the user.
///
/// The ranking is by insertion AUC − deletion AUC (RISE): a faithful map puts first the pixels
/// whose presence raises the class probability most and whose removal lowers it most. Average Drop
/// (lower is better) and Increase in Confidence (higher) are shown beside it.
public struct MethodComparison: Sendable {
    /// One method's means over the images it explained.
    public struct Row: Sendable {
        public var method: CAMMethod
        public var images: Int
        public var deletionAUC: Double
        public var insertionAUC: Double
        public var averageDrop: Double
        public var increaseInConfidence: Double
        /// ROAD's mean logit changes (`ROAD`): most relevant first (lower is better), least
        /// relevant first, and their combination (LeRF − MoRF) / 2 (higher is better).
        public var roadMostRelevantFirst: Double?
        public var roadLeastRelevantFirst: Double?
        public var roadCombined: Double? {
            guard let morf = roadMostRelevantFirst, let lerf = roadLeastRelevantFirst else { return nil }
            return (lerf - morf) / 2
        }
        /// The randomisation check's outcome (`gradcam --sanity`), when it ran.
        public var sanity: SanityCheck.Result?
        /// insertion − deletion: the ranking key (higher is better).
        public var score: Double { insertionAUC - deletionAUC }

        public init(method: CAMMethod, metrics: [CAMMetrics], sanity: SanityCheck.Result? = nil) {
            self.sanity = sanity
            let n = Double(max(metrics.count, 1))
            self.method = method
            images = metrics.count
            deletionAUC = metrics.reduce(0) { $0 + $1.deletionAUC } / n
            insertionAUC = metrics.reduce(0) { $0 + $1.insertionAUC } / n
            averageDrop = metrics.reduce(0) { $0 + $1.drop } / n
            increaseInConfidence = Double(metrics.filter(\.increased).count) / n
            let road = metrics.compactMap(\.road)
            if !road.isEmpty {
                roadMostRelevantFirst = road.reduce(0) { $0 + $1.mostRelevantFirst } / Double(road.count)
                roadLeastRelevantFirst = road.reduce(0) { $0 + $1.leastRelevantFirst } / Double(road.count)
            }
        }
    }

    /// Best first.
    public var rows: [Row]

    public init(_ rows: [Row]) {
        self.rows = rows.sorted { $0.score != $1.score ? $0.score > $1.score : $0.method.rawValue < $1.method.rawValue }
    }

    /// The ranking as text, one method a line.
    public var text: String {
        var lines = [
            "rank  method                 insertion−deletion  deletion  insertion  avg drop  increase  ROAD  sanity check"
        ]
        for (index, row) in rows.enumerated() {
            lines.append(
                String(format: "%4d  ", index + 1)
                    + row.method.rawValue.padding(toLength: 22, withPad: " ", startingAt: 0)
                    + String(
                        format: " %18.4f  %8.4f  %9.4f  %8.4f  %8.4f  %@  ", row.score, row.deletionAUC,
                        row.insertionAUC, row.averageDrop, row.increaseInConfidence, Self.value(row.roadCombined))
                    + (row.sanity.map(Self.verdict) ?? "not run"))
        }
        return lines.joined(separator: "\n")
    }

    /// A ROAD value to three decimals, or "not run" (`--road` not given).
    static func value(_ number: Double?) -> String { number.map { String(format: "%.3f", $0) } ?? "not run" }

    /// "passes (0.22 · 0.26 · 0.18)": the verdict and the rank correlation after each step.
    public static func verdict(_ result: SanityCheck.Result) -> String {
        (result.passes ? "passes" : "fails") + " ("
            + result.rankCorrelation.map { String(format: "%.2f", $0) }.joined(separator: " · ") + ")"
    }

    /// `methods.html`: the ranking with a link to each method's own report (`METHOD/report.html`),
    /// then, per image, every method's overlay side by side in ranking order (`overlays`: each
    /// image's path and its overlay file per method, relative to the method's folder).
    public func html(model: String, layer: String, overlays: [(path: String, files: [CAMMethod: String])] = [])
        -> String
    {
        let header = rows.map { "<th>\(CAMReport.escape($0.method.rawValue))</th>" }.joined()
        let pictures = overlays.map { image in
            let cells = rows.map { row -> String in
                guard let file = image.files[row.method] else { return "<td></td>" }
                let source = CAMReport.escape(row.method.rawValue + "/" + file)
                return
                    "<td><a href=\"\(source)\"><img src=\"\(source)\" width=\"120\" alt=\"\(CAMReport.escape(row.method.rawValue))\"></a></td>"
            }.joined()
            return "<tr><td>\(CAMReport.escape((image.path as NSString).lastPathComponent))</td>\(cells)</tr>"
        }.joined(separator: "\n")
        let sideBySide =
            overlays.isEmpty
            ? "" : "<h2>Per image, best method first</h2><table><tr><th>image</th>\(header)</tr>\(pictures)</table>"
        let body = rows.enumerated().map { index, row in
            let name = CAMReport.escape(row.method.rawValue)
            return String(
                format:
                    "<tr><td>%d</td><td><a href=\"%@/report.html\">%@</a></td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%@</td><td>%@</td><td>%@</td><td>%d</td><td>%@</td></tr>",
                index + 1, name, name, row.score, row.deletionAUC, row.insertionAUC, row.averageDrop,
                row.increaseInConfidence, Self.value(row.roadMostRelevantFirst), Self.value(row.roadLeastRelevantFirst),
                Self.value(row.roadCombined), row.images, CAMReport.escape(row.sanity.map(Self.verdict) ?? "not run"))
        }.joined(separator: "\n")
        return """
            <!DOCTYPE html><html><head><meta charset="utf-8"><title>Which explanation to trust</title>
            <style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;text-align:right}th{background:#eee}td:nth-child(2){text-align:left}</style></head><body>
            <h1>Which explanation to trust</h1>
            <p>Model <code>\(CAMReport.escape(model))</code>, layer <code>\(CAMReport.escape(layer))</code> (pixel methods explain the input).
            Methods ranked by insertion AUC − deletion AUC (RISE) over the same images: a faithful map ranks first the pixels
            whose presence raises the class probability and whose removal lowers it. Average Drop: lower is better;
            Increase in Confidence: higher is better. ROAD (Rong et al., pytorch-grad-cam's): the mean logit change when the most
            (MoRF, lower is better) or least (LeRF) relevant 10–90% of pixels are removed and imputed from their neighbours;
            combined = (LeRF − MoRF) / 2, higher is better (<code>--road</code>). Each method's name links to its report. Sanity check
            (<code>--sanity</code>, Adebayo et al.): the layers are randomised from the output down, one more at each
            step, and a method passes when its maps then stop resembling the trained model's (mean Spearman rank
            correlation below 0.5 at every step, shown in order); a method that fails explains the image more than the model.</p>
            <table><tr><th>rank</th><th>method</th><th>insertion − deletion</th><th>deletion AUC</th><th>insertion AUC</th><th>average drop</th><th>increase in confidence</th><th>ROAD MoRF</th><th>ROAD LeRF</th><th>ROAD combined</th><th>images</th><th>sanity check</th></tr>
            \(body)
            </table>\(sideBySide)</body></html>
            """
    }
}
