import Foundation
import SightlineCore
internal import ZIPFoundation

/// The element types of PyTorch storages and safetensors tensors that Sightline converts to Float.
enum TorchDType: Equatable {
    case float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool

    var size: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// `torch.FloatStorage` and friends (the class named in a pickle's persistent id).
    static let storageNames: [String: TorchDType] = [
        "FloatStorage": .float32, "HalfStorage": .float16, "BFloat16Storage": .bfloat16, "DoubleStorage": .float64,
        "LongStorage": .int64, "IntStorage": .int32, "ShortStorage": .int16, "CharStorage": .int8,
        "ByteStorage": .uint8, "BoolStorage": .bool,
    ]

    /// safetensors' `dtype` names.
    static let safetensorsNames: [String: TorchDType] = [
        "F32": .float32, "F16": .float16, "BF16": .bfloat16, "F64": .float64, "I64": .int64, "I32": .int32,
        "I16": .int16, "I8": .int8, "U8": .uint8, "BOOL": .bool,
    ]

    /// Element `index` of little-endian `bytes` as Float.
    func value(_ bytes: UnsafeRawBufferPointer, _ index: Int) -> Float {
        let at = index * size
        switch self {
        case .float32:
            return Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
        case .float64:
            return Float(
                Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self))))
        case .float16:
            return Float(
                Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self))))
        case .bfloat16:
            let bits = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self))
            return Float(bitPattern: UInt32(bits) << 16)
        case .int64: return Float(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: Int64.self)))
        case .int32: return Float(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: Int32.self)))
        case .int16: return Float(Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: Int16.self)))
        case .int8: return Float(bytes.load(fromByteOffset: at, as: Int8.self))
        case .uint8, .bool: return Float(bytes[at])
        }
    }
}

/// A PyTorch state dict read without Python: the zip archive `torch.save` writes since 1.6, the
/// legacy pickle stream before it, and safetensors. Tensors keep torch's layouts (convolution
/// kernels OIHW, linear weights `(out, in)`); `TorchVisionLayers` maps them to Sightline's.
///
/// A checkpoint dictionary (`{"state_dict": …}`, `{"model": …}`) is unwrapped and the key
/// prefixes of wrapped models (`module.`, `model.`, `backbone.`) are removed. Nothing from the
/// file is executed (`PickleReader`), and every declared size is checked against the bytes in
/// the file before memory is allocated for it.
struct TorchStateDict {
    /// Tensors in the file's order.
    var tensors: [(key: String, value: Tensor)]
    /// Which container the file was.
    var container: String

    /// True when `path` looks like a PyTorch or safetensors file (by content, not extension).
    static func recognises(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 9)) ?? Data())
        if head.starts(with: [0x80]) && head.count > 1 && head[1] >= 2 { return true }  // a pickle stream
        if path.lowercased().hasSuffix(".safetensors") { return true }
        guard head.starts(with: [0x50, 0x4B, 0x03, 0x04]),
            let archive = try? Archive(url: URL(fileURLWithPath: path), accessMode: .read, pathEncoding: nil)
        else { return false }
        return archive.contains { $0.path.hasSuffix("data.pkl") }
    }

    static func read(path: String) throws(ModelFileError) -> TorchStateDict {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelFileError(file: path, "cannot be read", kind: .unreadable)
        }
        do {
            let bytes = [UInt8](data)
            var dict: TorchStateDict
            if path.lowercased().hasSuffix(".safetensors") {
                dict = TorchStateDict(tensors: try safetensors(bytes), container: "safetensors")
            } else if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
                dict = TorchStateDict(tensors: try zipArchive(path), container: "PyTorch zip archive (.pth)")
            } else {
                dict = TorchStateDict(tensors: try legacy(bytes), container: "PyTorch legacy pickle (.pth)")
            }
            dict.tensors = normalisedKeys(dict.tensors)
            return dict
        } catch let problem as PickleReader.Problem {
            throw ModelFileError(file: path, problem.message, kind: .layout)
        } catch let error as ModelFileError {
            throw error
        } catch {
            throw ModelFileError(file: path, "\(error)", kind: .layout)
        }
    }

    /// Removes the prefixes of wrapped models when every key has the same one.
    static func normalisedKeys(_ tensors: [(key: String, value: Tensor)]) -> [(key: String, value: Tensor)] {
        for prefix in ["module.", "model.", "backbone."] where tensors.allSatisfy({ $0.key.hasPrefix(prefix) }) {
            return normalisedKeys(tensors.map { (String($0.key.dropFirst(prefix.count)), $0.value) })
        }
        return tensors
    }

    // MARK: - Containers

    /// `archive/data.pkl` with storages in `archive/data/<key>`.
    static func zipArchive(_ path: String) throws -> [(key: String, value: Tensor)] {
        let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read, pathEncoding: nil)
        guard let pickle = archive.first(where: { $0.path.hasSuffix("data.pkl") }) else {
            throw PickleReader.Problem(message: "a zip archive without data.pkl is not a PyTorch file")
        }
        let root = String(pickle.path.dropLast("data.pkl".count))
        func member(_ name: String, limit: Int) throws -> [UInt8] {
            guard let entry = archive[root + name] else {
                throw PickleReader.Problem(message: "the archive has no \(root + name)")
            }
            guard entry.uncompressedSize <= UInt64(limit) else {
                throw PickleReader.Problem(message: "\(root + name) declares \(entry.uncompressedSize) bytes")
            }
            var bytes: [UInt8] = []
            _ = try archive.extract(entry, skipCRC32: false) { bytes += $0 }
            return bytes
        }
        var reader = PickleReader(try member("data.pkl", limit: 1 << 30))
        let root0 = try reader.read()
        return try tensors(in: root0) { storage in
            try member("data/\(storage.key)", limit: storage.count * storage.dtype.size)
        }
    }

    /// Before torch 1.6: pickles of the magic number, the protocol version and the system
    /// information, then the object, then the list of storage keys, then each storage as an
    /// int64 element count and its bytes, in that list's order.
    static func legacy(_ bytes: [UInt8]) throws -> [(key: String, value: Tensor)] {
        var reader = PickleReader(bytes)
        guard case .int(let magic) = try reader.read(), UInt64(bitPattern: Int64(magic)) == 0xa86a_20f9_469c_fc6c else {
            throw PickleReader.Problem(
                message: "not a PyTorch file: no torch.save magic number (0x1950a86a20f9469cfc6c)")
        }
        _ = try reader.read()  // protocol version
        _ = try reader.read()  // sys_info
        let object = try reader.read()
        guard case .list(let keys) = try reader.read() else {
            throw PickleReader.Problem(message: "the legacy file has no list of storage keys")
        }
        var references: [String: PickleReader.StorageReference] = [:]
        collectStorages(object, into: &references)
        var offset = reader.position
        var blobs: [String: [UInt8]] = [:]
        for case .string(let key) in keys {
            guard let reference = references[key] else {
                throw PickleReader.Problem(message: "storage \(key) is listed but no tensor uses it")
            }
            let size = reference.count * reference.dtype.size
            guard offset <= bytes.count - 8, size <= bytes.count - offset - 8 else {
                throw PickleReader.Problem(message: "storage \(key) is cut off (the file is truncated)")
            }
            let count = bytes[offset..<(offset + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard count == UInt64(reference.count) else {
                throw PickleReader.Problem(
                    message: "storage \(key) holds \(count) elements, its tensors say \(reference.count)")
            }
            blobs[key] = Array(bytes[(offset + 8)..<(offset + 8 + size)])
            offset += 8 + size
        }
        return try tensors(in: object) { reference in
            guard let blob = blobs[reference.key] else {
                throw PickleReader.Problem(message: "storage \(reference.key) is not in the file")
            }
            return blob
        }
    }

    /// The storages tensors in `value` view, by key.
    static func collectStorages(
        _ value: PickleReader.Value, into references: inout [String: PickleReader.StorageReference]
    ) {
        switch value {
        case .tensor(let tensor): references[tensor.storage.key] = tensor.storage
        case .list(let items), .tuple(let items): for item in items { collectStorages(item, into: &references) }
        case .dict(let entries): for (_, item) in entries { collectStorages(item, into: &references) }
        default: break
        }
    }

    /// Every tensor in a state dict (possibly inside a checkpoint dictionary), in order, with
    /// its data from `storage(reference)`.
    static func tensors(in root: PickleReader.Value, storage: (PickleReader.StorageReference) throws -> [UInt8]) throws
        -> [(key: String, value: Tensor)]
    {
        guard case .dict(var entries) = root else {
            throw PickleReader.Problem(message: "the file holds no dictionary of tensors (a state_dict)")
        }
        // A checkpoint: {"state_dict": {...}, "epoch": …} or {"model": {...}}.
        for name in ["state_dict", "model", "model_state_dict"] {
            if let inner = entries.first(where: { $0.0 == .string(name) })?.1, case .dict(let dict) = inner {
                entries = dict
                break
            }
        }
        var cache: [String: [UInt8]] = [:]
        var result: [(key: String, value: Tensor)] = []
        for (key, value) in entries {
            guard case .string(let name) = key, case .tensor(let tensor) = value else { continue }
            if cache[tensor.storage.key] == nil { cache[tensor.storage.key] = try storage(tensor.storage) }
            let bytes = cache[tensor.storage.key] ?? []
            guard bytes.count >= tensor.storage.count * tensor.storage.dtype.size else {
                throw PickleReader.Problem(
                    message:
                        "storage \(tensor.storage.key) of '\(name)' has \(bytes.count) bytes, not \(tensor.storage.count * tensor.storage.dtype.size)"
                )
            }
            result.append((name, gather(tensor, bytes)))
        }
        guard !result.isEmpty else { throw PickleReader.Problem(message: "the dictionary holds no tensors") }
        return result
    }

    /// The strided view as a contiguous row-major Float tensor.
    static func gather(_ tensor: PickleReader.TensorReference, _ bytes: [UInt8]) -> Tensor {
        let count = tensor.shape.reduce(1, *)
        let dtype = tensor.storage.dtype
        return Tensor(shape: tensor.shape) { values in
            bytes.withUnsafeBytes { raw in
                var index = [Int](repeating: 0, count: tensor.shape.count)
                for i in 0..<count {
                    let source = zip(index, tensor.strides).reduce(tensor.offset) { $0 + $1.0 * $1.1 }
                    values[i] = dtype.value(raw, source)
                    var axis = tensor.shape.count - 1
                    while axis >= 0 {
                        index[axis] += 1
                        if index[axis] < tensor.shape[axis] { break }
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
    }

    /// safetensors: an 8-byte little-endian header length, a JSON header
    /// `{name: {"dtype", "shape", "data_offsets": [begin, end]}}`, then the data.
    static func safetensors(_ bytes: [UInt8]) throws -> [(key: String, value: Tensor)] {
        guard bytes.count >= 8 else { throw PickleReader.Problem(message: "too short for a safetensors file") }
        let length = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard length <= UInt64(bytes.count - 8) else {
            throw PickleReader.Problem(
                message: "the safetensors header declares \(length) bytes; the file has \(bytes.count)")
        }
        let start = 8 + Int(length)
        guard let header = try? JSONSerialization.jsonObject(with: Data(bytes[8..<start])) as? [String: Any] else {
            throw PickleReader.Problem(message: "the safetensors header is not a JSON object")
        }
        var entries: [(begin: Int, key: String, value: Tensor)] = []
        for (key, value) in header where key != "__metadata__" {
            guard let entry = value as? [String: Any], let name = entry["dtype"] as? String,
                let dtype = TorchDType.safetensorsNames[name], let shape = entry["shape"] as? [Int],
                shape.allSatisfy({ $0 >= 0 }), let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else {
                throw PickleReader.Problem(message: "safetensors entry '\(key)' is not {dtype, shape, data_offsets}")
            }
            let (count, overflow) = shape.reduce((1, false)) { partial, n in
                let (product, o) = partial.0.multipliedReportingOverflow(by: n)
                return (product, partial.1 || o)
            }
            guard !overflow, offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] - offsets[0] == count * dtype.size,
                offsets[1] <= bytes.count - start
            else {
                throw PickleReader.Problem(
                    message:
                        "safetensors entry '\(key)' has offsets \(offsets) that do not fit its shape \(shape) or the file"
                )
            }
            let reference = PickleReader.TensorReference(
                storage: .init(key: key, dtype: dtype, count: count), offset: 0, shape: shape,
                strides: shape.indices.map { shape[($0 + 1)...].reduce(1, *) })
            entries.append(
                (offsets[0], key, gather(reference, Array(bytes[(start + offsets[0])..<(start + offsets[1])]))))
        }
        guard !entries.isEmpty else { throw PickleReader.Problem(message: "the safetensors file holds no tensors") }
        return entries.sorted { $0.begin < $1.begin }.map { ($0.key, $0.value) }
    }
}
