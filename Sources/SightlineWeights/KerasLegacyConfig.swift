/// Keras 1 layer configs in Keras 2's terms, as Keras 2's own legacy interfaces converted them
/// (`keras/legacy/interfaces.py`): the renamed classes and keys are data, `upgraded` the one
/// function that applies them. Keras 2 and 3 configs pass through unchanged.
enum KerasLegacyConfig {
    /// Keras 1 class name → Keras 2 class name.
    static let classNames = ["Convolution2D": "Conv2D"]

    /// Per Keras 2 class: Keras 1 key → Keras 2 key.
    static let renamedKeys: [String: [String: String]] = [
        "Conv2D": [
            "nb_filter": "filters", "border_mode": "padding", "subsample": "strides", "bias": "use_bias",
            "dim_ordering": "data_format", "init": "kernel_initializer",
        ],
        "Dense": ["output_dim": "units", "bias": "use_bias", "init": "kernel_initializer"],
        "MaxPooling2D": ["border_mode": "padding", "dim_ordering": "data_format"],
        "AveragePooling2D": ["border_mode": "padding", "dim_ordering": "data_format"],
        "GlobalAveragePooling2D": ["dim_ordering": "data_format"],
        "GlobalMaxPooling2D": ["dim_ordering": "data_format"],
        "ZeroPadding2D": ["dim_ordering": "data_format"],
        "Dropout": ["p": "rate"],
    ]

    /// Keras 1 `dim_ordering` values → Keras 2 `data_format`.
    static let dataFormats = ["tf": "channels_last", "th": "channels_first"]

    /// The Keras 2 class name and config of a layer written by Keras 1 (or the input unchanged):
    /// keys renamed, `nb_row`/`nb_col` joined into `kernel_size`, `dim_ordering` values mapped.
    static func upgraded(className: String, config: [String: Any]) -> (String, [String: Any]) {
        let name = classNames[className] ?? className
        guard let keys = renamedKeys[name], config.keys.contains(where: { keys[$0] != nil || $0 == "nb_row" }) else {
            return (name, config)
        }
        var upgraded: [String: Any] = [:]
        for (key, value) in config {
            let newKey = keys[key] ?? key
            upgraded[newKey] = key == "dim_ordering" ? (value as? String).flatMap { dataFormats[$0] } ?? value : value
        }
        if let rows = config["nb_row"], let columns = config["nb_col"] {
            upgraded["kernel_size"] = [rows, columns]
            upgraded["nb_row"] = nil
            upgraded["nb_col"] = nil
        }
        return (name, upgraded)
    }
}
