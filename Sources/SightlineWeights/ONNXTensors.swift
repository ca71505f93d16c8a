import Foundation
internal import ONNXProto
import SightlineCore

/// ONNX `TensorProto`s as Float tensors in ONNX's own layout (NCHW activations, OIHW kernels):
/// inline `raw_data` or typed fields, and external data files next to the model. An external
/// file must lie in the model's folder (no absolute path, no `..`), and every declared size is
/// checked against the bytes there before anything is allocated.
struct ONNXTensors {
    /// The model file (messages name it) and its folder (external data is relative to it).
    let path: String

    /// `tensor` as Float, `[dims]`.
    func value(_ tensor: Onnx_TensorProto) throws(ModelFileError) -> Tensor {
        let shape = tensor.dims.map { Int($0) }
        let name = tensor.name.isEmpty ? "a tensor" : "tensor '\(tensor.name)'"
        guard shape.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }) else {
            throw ModelFileError(file: path, object: name, "has dimensions \(shape)", kind: .layout)
        }
        let (count, overflow) = shape.reduce((1, false)) { partial, n in
            let (product, o) = partial.0.multipliedReportingOverflow(by: n)
            return (product, partial.1 || o)
        }
        guard !overflow, count < 1 << 34 else {
            throw ModelFileError(file: path, object: name, "declares \(shape), too large to be a weight", kind: .layout)
        }
        guard let dtype = Self.dtypes[tensor.dataType] else {
            throw ModelFileError(
                file: path, object: name,
                "has ONNX data type \(tensor.dataType); Sightline reads float, float16, bfloat16, double and integer tensors",
                kind: .layout)
        }
        var bytes: [UInt8]
        if tensor.dataLocation == .external {
            bytes = try external(tensor, count: count * dtype.size, name: name)
        } else if !tensor.rawData.isEmpty {
            bytes = [UInt8](tensor.rawData)
        } else {
            // Typed fields: floats in float_data, 64-bit integers in int64_data, doubles in
            // double_data, everything narrower in int32_data.
            let values: [Float]
            switch dtype {
            case .float32: values = tensor.floatData
            case .float64: values = tensor.doubleData.map(Float.init)
            case .int64: values = tensor.int64Data.map(Float.init)
            case .float16: values = tensor.int32Data.map { Float(Float16(bitPattern: UInt16(truncatingIfNeeded: $0))) }
            case .bfloat16: values = tensor.int32Data.map { Float(bitPattern: UInt32(truncatingIfNeeded: $0) << 16) }
            default: values = tensor.int32Data.map(Float.init)
            }
            guard values.count == count else {
                throw ModelFileError(
                    file: path, object: name, "holds \(values.count) values for its shape \(shape)", kind: .layout)
            }
            return Tensor(shape: shape, scalars: values)
        }
        guard bytes.count == count * dtype.size else {
            throw ModelFileError(
                file: path, object: name,
                "holds \(bytes.count) bytes for its shape \(shape) of \(dtype.size)-byte values",
                kind: .layout)
        }
        let reference = PickleReader.TensorReference(
            storage: .init(key: tensor.name, dtype: dtype, count: count), offset: 0, shape: shape,
            strides: shape.indices.map { shape[($0 + 1)...].reduce(1, *) })
        defer { bytes = [] }
        return TorchStateDict.gather(reference, bytes)
    }

    /// ONNX data types → the element types Sightline converts.
    static let dtypes: [Int32: TorchDType] = [
        1: .float32, 2: .uint8, 3: .int8, 5: .int16, 6: .int32, 7: .int64, 9: .bool, 10: .float16, 11: .float64,
        16: .bfloat16,
    ]

    /// The bytes of an external tensor: `location`, `offset`, `length` relative to the model's folder.
    private func external(_ tensor: Onnx_TensorProto, count: Int, name: String) throws(ModelFileError) -> [UInt8] {
        let entries = Dictionary(tensor.externalData.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        guard let location = entries["location"], !location.isEmpty, !location.hasPrefix("/"),
            !location.split(separator: "/").contains("..")
        else {
            throw ModelFileError(
                file: path, object: name,
                "names external data \(entries["location"] ?? "nowhere"); it must be a file in the model's folder",
                kind: .layout)
        }
        let offset = Int(entries["offset"] ?? "0") ?? -1
        let length = Int(entries["length"] ?? "\(count)") ?? -1
        let file = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(location)
        guard offset >= 0, length == count, let handle = FileHandle(forReadingAtPath: file) else {
            throw ModelFileError(
                file: path, object: name,
                "external data \(location) (offset \(offset), length \(length)) cannot be read; keep the data file next to the model",
                kind: .layout)
        }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()).map { Int($0) } ?? 0
        guard offset <= size, count <= size - offset else {
            throw ModelFileError(
                file: path, object: name,
                "external data \(location) has \(size) bytes; the tensor needs \(offset + count)",
                kind: .layout)
        }
        try? handle.seek(toOffset: UInt64(offset))
        let data = (try? handle.read(upToCount: count)) ?? Data()
        return [UInt8](data)
    }
}
