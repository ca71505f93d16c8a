import Foundation
import SightlineCore
import SightlineVision
import SightlineWeights

/// One explained image, for the report and `gradcam.h5`.
public struct ExplainedImage {
    public var path: String
    public var original: RGBImage
    public var overlay: RGBImage
    public var heatmap: RGBImage
    public var rawMap: Tensor
    public var explainedClass: Int
    public var score: Float
    /// (class, name, probability), best first.
    public var top: [(Int, String, Float)]
    public var overlayFile: String
    public var heatmapFile: String
    /// Faithfulness metrics, when requested.
    public var metrics: CAMMetrics?
    /// The true class, when the input came from class folders whose names match the model's.
    public var trueClass: Int?
    /// Guided Grad-CAM at the original size, and its file, for `guided-gradcam`.
    public var guided: RGBImage?
    public var guidedFile: String?

    /// A map whose maximum is below 1e-7 of the class score's size (at least 1): float32
    /// rounding noise, not evidence. It is drawn as zero and labelled, never stretched into a
    /// full-strength heatmap.
    public var isBlank: Bool { Self.isBlank(rawMap, score: score) }

    /// Keeps only what a page that links to the written files needs: the overlay's thumbnail as
    /// JPEG; the full-size original, overlay, heatmap and guided image are released (their files
    /// stay). A folder of thousands of photos then holds kilobytes per image, not megabytes.
    public mutating func keepThumbnailsOnly() throws {
        thumbnailJPEG = try CAMReport.thumbnail(overlay).jpegData(quality: 80)
        let none = RGBImage(width: 1, height: 1, pixels: [0, 0, 0])
        (original, overlay, heatmap, guided) = (none, none, none, nil)
    }

    /// The overlay's thumbnail for the page's grid, once the full-size images are released.
    public var thumbnailJPEG: Data?

    public static func isBlank(_ map: Tensor, score: Float) -> Bool {
        (map.scalars.max() ?? 0) <= 1e-7 * max(1, abs(score))
    }

    public init(
        path: String, original: RGBImage, overlay: RGBImage, heatmap: RGBImage, rawMap: Tensor, explainedClass: Int,
        score: Float,
        top: [(Int, String, Float)], overlayFile: String, heatmapFile: String
    ) {
        (self.path, self.original, self.overlay, self.heatmap, self.rawMap) = (path, original, overlay, heatmap, rawMap)
        (self.explainedClass, self.score, self.top, self.overlayFile, self.heatmapFile) = (
            explainedClass, score, top, overlayFile, heatmapFile
        )
    }
}

/// Writes the self-contained HTML report and `gradcam.h5`.
public enum CAMReport {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A single HTML file with every image embedded (base64 JPEG), the top classes, the raw map's
    /// maximum, layer and method; blank maps get a note; failures are listed.
    ///
    /// The page opens with a grid of thumbnails (prediction, confidence, true class when known,
    /// blank-map label) that can be filtered to the misclassified images; each links to its
    /// section. With more than `embedLimit` images the sections link to the written files
    /// instead of embedding full-size copies, so the page stays small enough to scan.
    public static let embedLimit = 50

    public static func html(
        _ images: [ExplainedImage], failures: [(String, String)], model: String, layer: String, method: CAMMethod,
        quality: Int, embedLimit: Int = CAMReport.embedLimit
    ) throws -> String {
        var body = ""
        var grid = ""
        let embed = images.count <= embedLimit && !images.contains { $0.thumbnailJPEG != nil }
        for (index, image) in images.enumerated() {
            let predicted = image.top.first
            let wrong = image.trueClass.map { $0 != predicted?.0 } ?? false
            let thumbnail = try (image.thumbnailJPEG ?? self.thumbnail(image.overlay).jpegData(quality: 80))
                .base64EncodedString()
            let truth =
                image.trueClass.map { truth in
                    "<br>true \(escape(image.top.first { $0.0 == truth }?.1 ?? "class \(truth)"))"
                } ?? ""
            grid += """
                <a class="cell\(wrong ? " wrong" : "")" href="#image-\(index)"><img alt="\(escape(image.path))" src="data:image/jpeg;base64,\(thumbnail)"><span>\(escape((image.path as NSString).lastPathComponent))<br>\(wrong ? "✗ " : "")\(escape(predicted?.1 ?? "")) \(String(format: "%.0f%%", (predicted?.2 ?? 0) * 100))\(truth)\(image.isBlank ? "<br><i>blank map</i>" : "")</span></a>
                """
            let original =
                embed
                ? "data:image/jpeg;base64," + (try image.original.jpegData(quality: quality).base64EncodedString())
                : escape(image.path)
            let overlay =
                embed
                ? "data:image/jpeg;base64," + (try image.overlay.jpegData(quality: quality).base64EncodedString())
                : escape(image.overlayFile)
            let maximum = image.rawMap.scalars.max() ?? 0
            let rows = image.top.map {
                "<tr><td>\($0.0)</td><td>\(escape($0.1))</td><td>\(String(format: "%.2f%%", $0.2 * 100))</td></tr>"
            }.joined()
            let measured =
                image.metrics.map {
                    String(
                        format:
                            "<p>deletion AUC %.3f (lower is better) · insertion AUC %.3f (higher is better) · confidence %.3f, on the explanation map %.3f%@</p>",
                        $0.deletionAUC, $0.insertionAUC, $0.probability, $0.explanationProbability,
                        $0.road.map {
                            String(
                                format:
                                    " · ROAD logit change removing the most relevant first %.3f, the least relevant first %.3f (combined %.3f, higher is better)",
                                $0.mostRelevantFirst, $0.leastRelevantFirst, $0.combined)
                        } ?? "")
                } ?? ""
            let note =
                image.isBlank
                ? "<p class=\"note\">Blank map (maximum \(String(format: "%.3g", maximum))): no region of this layer raises the class score, so nothing is highlighted. Try another --layer or class.</p>"
                : ""
            let guided =
                try image.guided.map { picture in
                    let source =
                        embed
                        ? "data:image/jpeg;base64," + (try picture.jpegData(quality: quality).base64EncodedString())
                        : escape(image.guidedFile ?? "")
                    return
                        "<figure><img alt=\"guided Grad-CAM\" src=\"\(source)\"><figcaption>guided Grad-CAM (\(escape(image.guidedFile ?? "")))</figcaption></figure>"
                } ?? ""
            body += """
                <section id="image-\(index)"><h2>\(escape(image.path))</h2>
                <div class="pair"><figure><a href="\(escape(image.overlayFile))"><img alt="original" src="\(original)"></a><figcaption>original</figcaption></figure>
                <figure><a href="\(escape(image.overlayFile))"><img alt="Grad-CAM overlay" src="\(overlay)"></a><figcaption>\(escape(method.rawValue)) for class \(image.explainedClass) (\(escape(image.top.first { $0.0 == image.explainedClass }?.1 ?? "class \(image.explainedClass)"))), score \(String(format: "%.4g", image.score))</figcaption></figure>\(guided)</div>
                \(note)\(measured)<table><tr><th>class</th><th>name</th><th>probability</th></tr>\(rows)</table>
                <p>raw map maximum \(String(format: "%.6g", maximum)) · layer \(escape(layer)) · files \(escape(image.overlayFile)), \(escape(image.heatmapFile))</p></section>

                """
        }
        let measured = images.compactMap(\.metrics)
        let summary =
            measured.isEmpty
            ? ""
            : String(
                format:
                    "<p><b>Faithfulness over %d images:</b> mean deletion AUC %.3f, mean insertion AUC %.3f, Average Drop %.1f%%, Increase in Confidence %.1f%%%@.</p>",
                measured.count, measured.map(\.deletionAUC).reduce(0, +) / Double(measured.count),
                measured.map(\.insertionAUC).reduce(0, +) / Double(measured.count),
                100 * measured.map(\.drop).reduce(0, +) / Double(measured.count),
                100 * Double(measured.filter(\.increased).count) / Double(measured.count),
                measured.compactMap(\.road).isEmpty
                    ? ""
                    : String(
                        format: ", ROAD combined %.3f",
                        measured.compactMap(\.road?.combined).reduce(0, +) / Double(measured.compactMap(\.road).count)))
        let failed =
            failures.isEmpty
            ? ""
            : "<section><h2>Not explained</h2><ul>"
                + failures.map { "<li>\(escape($0.0)): \(escape($0.1))</li>" }.joined() + "</ul></section>"
        return """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sightline \(escape(method.rawValue)) report</title>
            <style>body{font-family:sans-serif;margin:2em;max-width:70em}figure{display:inline-block;margin:0 1em 0 0}img{max-width:32em;height:auto}
            table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}.note{color:#a40}
            .grid{display:flex;flex-wrap:wrap;gap:8px}.cell{width:170px;font-size:12px;color:#222;text-decoration:none}.cell img{width:160px;height:auto}
            .cell.wrong span{color:#b00}body.only-wrong .cell:not(.wrong){display:none}</style></head><body>
            <h1>\(escape(method.rawValue)) report</h1><p>model \(escape(model)) · layer \(escape(layer)) · \(images.count) images\(images.contains { $0.trueClass != nil } ? " · \(images.filter { $0.trueClass != nil && $0.trueClass != $0.top.first?.0 }.count) misclassified" : "")</p>
            <p><label><input type="checkbox" onchange="document.body.classList.toggle('only-wrong', this.checked)"> show misclassified images only</label> · click a thumbnail for its maps\(embed ? "" : "; full-size images are the files next to this page")</p>
            <div class="grid">\(grid)</div>
            \(summary)\(body)\(failed)</body></html>
            """
    }

    /// `image` scaled to 160 pixels on its longer side.
    static func thumbnail(_ image: RGBImage) -> RGBImage {
        let scale = min(1, 160.0 / Double(max(image.width, image.height, 1)))
        let (height, width) = (max(1, Int(Double(image.height) * scale)), max(1, Int(Double(image.width) * scale)))
        let resized = Resize.bilinear(image.tensor, height: height, width: width)
        return RGBImage(
            width: width, height: height, pixels: resized.scalars.map { UInt8(min(255, max(0, $0.rounded()))) })
    }

    /// `gradcam.h5`: raw maps `[N, h, w]`, explained classes, scores, paths; attributes name the
    /// model, layer, method and Sightline version.
    public static func writeMaps(_ images: [ExplainedImage], to path: String, attributes: [String: String]) throws {
        try AtomicFile.write(to: path) { temporary in
            let file = try HDF5File(creating: temporary)
            try file.write(
                Tensor.concatenatingBatches(images.map { $0.rawMap.reshaped([1] + $0.rawMap.shape) }), to: "/maps")
            try file.write(integers: images.map(\.explainedClass), to: "/classes")
            try file.write(Tensor(shape: [images.count], scalars: images.map(\.score)), to: "/scores")
            try file.write(strings: images.map(\.path), to: "/paths")
            for (name, value) in attributes.sorted(by: { $0.key < $1.key }) {
                try file.writeString(value, attribute: name)
            }
            try file.close()
        }
    }
}
