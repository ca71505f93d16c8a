/// A restricted reader of Python pickles (protocols 2–5), for PyTorch state dicts: it rebuilds
/// only what a state dict holds (dictionaries, lists, tuples, strings, numbers, and tensors over
/// storages) and never executes anything. The only globals it accepts are the few that
/// `torch.save` writes for those (`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`,
/// `torch._utils._rebuild_parameter`, `torch.*Storage`); any other global is an error naming it,
/// before anything is built from it. Sizes and counts in the stream are checked against the
/// bytes that are there.
struct PickleReader {
    /// A storage a tensor views: persistent id `('storage', torch.FloatStorage, key, location, numel)`.
    struct StorageReference: Equatable {
        var key: String
        var dtype: TorchDType
        var count: Int
    }

    /// A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage.
    struct TensorReference: Equatable {
        var storage: StorageReference
        var offset: Int
        var shape: [Int]
        var strides: [Int]
    }

    /// What the stream builds.
    indirect enum Value: Equatable {
        case none
        case bool(Bool)
        case int(Int)
        case float(Double)
        case string(String)
        case bytes([UInt8])
        case list([Value])
        case tuple([Value])
        /// Entries in insertion order (keys are strings in a state dict, but any value may be a key).
        case dict([(Value, Value)])
        case global(String)
        case storage(StorageReference)
        case tensor(TensorReference)
        case mark

        static func == (a: Value, b: Value) -> Bool {
            switch (a, b) {
            case (.none, .none), (.mark, .mark): return true
            case (.bool(let x), .bool(let y)): return x == y
            case (.int(let x), .int(let y)): return x == y
            case (.float(let x), .float(let y)): return x == y
            case (.string(let x), .string(let y)): return x == y
            case (.bytes(let x), .bytes(let y)): return x == y
            case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)): return x == y
            case (.dict(let x), .dict(let y)): return x.count == y.count && zip(x, y).allSatisfy { $0 == $1 }
            case (.global(let x), .global(let y)): return x == y
            case (.storage(let x), .storage(let y)): return x == y
            case (.tensor(let x), .tensor(let y)): return x == y
            default: return false
            }
        }
    }

    /// Why a pickle cannot be read (the caller names the file).
    struct Problem: Error {
        var message: String
    }

    /// The globals a state dict may name, and nothing else.
    static let allowedGlobals = Set(
        ["collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter"]
            + TorchDType.storageNames.keys.map { "torch.\($0)" })

    private let bytes: [UInt8]
    private(set) var position: Int

    init(_ bytes: [UInt8], at position: Int = 0) {
        (self.bytes, self.position) = (bytes, position)
    }

    /// Containers nest at most this deep (a state dict is 3 deep): deeper is a pickle bomb.
    static let maximumDepth = 64

    /// Reads one pickle (up to its STOP) from the current position.
    mutating func read() throws(Problem) -> Value {
        // Each stack and memo entry carries its nesting depth, checked as containers are built.
        var stack: [(value: Value, depth: Int)] = []
        var memo: [Int: (value: Value, depth: Int)] = [:]
        func push(_ value: Value, depth: Int = 0) throws(Problem) {
            guard depth <= Self.maximumDepth else {
                throw Problem(
                    message: "the pickle nests containers more than \(Self.maximumDepth) deep; a state dict never does")
            }
            stack.append((value, depth))
        }
        func pop() throws(Problem) -> (value: Value, depth: Int) {
            guard let entry = stack.popLast() else { throw Problem(message: "the pickle pops an empty stack") }
            return entry
        }
        func popToMark() throws(Problem) -> (values: [Value], depth: Int) {
            guard let mark = stack.lastIndex(where: { $0.value == .mark }) else {
                throw Problem(message: "the pickle has no MARK")
            }
            let items = stack[(mark + 1)...]
            stack.removeSubrange(mark...)
            return (items.map(\.value), items.map(\.depth).max() ?? 0)
        }
        /// Pushes a container of `items`, one deeper than the deepest of them.
        func container(_ make: ([Value]) throws(Problem) -> Value, _ items: [(value: Value, depth: Int)])
            throws(Problem)
        {
            try push(try make(items.map(\.value)), depth: 1 + (items.map(\.depth).max() ?? 0))
        }
        while true {
            let opcode = try byte()
            switch opcode {
            case 0x80: _ = try byte()  // PROTO
            case 0x95: _ = try integer(8)  // FRAME (the frame's bytes follow inline)
            case 0x2E: return try pop().value  // STOP
            case 0x28: try push(.mark)  // MARK
            case 0x7D: try push(.dict([]), depth: 1)  // EMPTY_DICT
            case 0x5D: try push(.list([]), depth: 1)  // EMPTY_LIST
            case 0x29: try push(.tuple([]), depth: 1)  // EMPTY_TUPLE
            case 0x4E: try push(.none)
            case 0x88: try push(.bool(true))
            case 0x89: try push(.bool(false))
            case 0x4A: try push(.int(Int(Int32(truncatingIfNeeded: try integer(4)))))  // BININT
            case 0x4B: try push(.int(try integer(1)))  // BININT1
            case 0x4D: try push(.int(try integer(2)))  // BININT2
            case 0x8A: try push(.int(try long(Int(try byte()))))  // LONG1
            case 0x47: try push(.float(Double(bitPattern: try bigEndian(8))))  // BINFLOAT
            case 0x58: try push(.string(try text(try integer(4))))  // BINUNICODE
            case 0x8C: try push(.string(try text(Int(try byte()))))  // SHORT_BINUNICODE
            case 0x8D: try push(.string(try text(try integer(8))))  // BINUNICODE8
            case 0x55: try push(.string(try text(Int(try byte()))))  // SHORT_BINSTRING
            case 0x54: try push(.string(try text(try integer(4))))  // BINSTRING
            case 0x43: try push(.bytes(try take(Int(try byte()))))  // SHORT_BINBYTES
            case 0x42: try push(.bytes(try take(try integer(4))))  // BINBYTES
            case 0x74:  // TUPLE
                let (items, depth) = try popToMark()
                try push(.tuple(items), depth: depth + 1)
            case 0x85, 0x86, 0x87:  // TUPLE1, TUPLE2, TUPLE3
                var items: [(value: Value, depth: Int)] = []
                for _ in 0..<Int(opcode - 0x84) { items.insert(try pop(), at: 0) }
                try container({ .tuple($0) }, items)
            case 0x6C:  // LIST
                let (items, depth) = try popToMark()
                try push(.list(items), depth: depth + 1)
            case 0x64:  // DICT
                let (items, depth) = try popToMark()
                try push(.dict(try pairs(items)), depth: depth + 1)
            case 0x61:  // APPEND
                let item = try pop()
                let list = try pop()
                try push(try appending([item.value], to: list.value), depth: max(list.depth, item.depth + 1))
            case 0x65:  // APPENDS
                let (items, depth) = try popToMark()
                let list = try pop()
                try push(try appending(items, to: list.value), depth: max(list.depth, depth + 1))
            case 0x73:  // SETITEM
                let value = try pop()
                let key = try pop()
                let dict = try pop()
                try push(
                    try setting([(key.value, value.value)], in: dict.value),
                    depth: max(dict.depth, max(key.depth, value.depth) + 1))
            case 0x75:  // SETITEMS
                let (items, depth) = try popToMark()
                let dict = try pop()
                try push(try setting(try pairs(items), in: dict.value), depth: max(dict.depth, depth + 1))
            case 0x71: memo[try integer(1)] = stack.last  // BINPUT
            case 0x72: memo[try integer(4)] = stack.last  // LONG_BINPUT
            case 0x94: memo[memo.count] = stack.last  // MEMOIZE
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                let index = try integer(opcode == 0x68 ? 1 : 4)
                guard let entry = memo[index] else {
                    throw Problem(message: "the pickle reads memo \(index), never stored")
                }
                try push(entry.value, depth: entry.depth)
            case 0x63:  // GLOBAL "module\nname\n"
                try push(try global(try line() + "." + (try line())))
            case 0x93:  // STACK_GLOBAL
                guard case .string(let name) = try pop().value, case .string(let module) = try pop().value else {
                    throw Problem(message: "STACK_GLOBAL without two strings")
                }
                try push(try global(module + "." + name))
            case 0x52, 0x81:  // REDUCE, NEWOBJ
                let arguments = try pop()
                let callee = try pop()
                try push(try call(callee.value, arguments.value), depth: arguments.depth)
            case 0x62: _ = try pop()  // BUILD: object state (a state dict's `_metadata`) is not needed
            case 0x51: try push(try persistent(try pop().value))  // BINPERSID
            default:
                throw Problem(
                    message:
                        "pickle opcode 0x\(String(opcode, radix: 16)) at byte \(position - 1) is not one a state dict uses"
                )
            }
        }
    }

    // MARK: - Building

    private func global(_ name: String) throws(Problem) -> Value {
        guard Self.allowedGlobals.contains(name) else {
            throw Problem(
                message:
                    "the pickle names '\(name)', which a state dict never holds; Sightline runs nothing from a file (save the model's state_dict() with torch.save)"
            )
        }
        return .global(name)
    }

    private func call(_ callee: Value, _ arguments: Value) throws(Problem) -> Value {
        guard case .global(let name) = callee, case .tuple(let args) = arguments else {
            throw Problem(message: "the pickle calls something that is not an allowed global")
        }
        switch name {
        case "collections.OrderedDict":
            return .dict([])
        case "torch._utils._rebuild_parameter":
            guard let tensor = args.first, case .tensor = tensor else {
                throw Problem(message: "_rebuild_parameter without a tensor")
            }
            return tensor
        case "torch._utils._rebuild_tensor_v2":
            guard args.count >= 4, case .storage(let storage) = args[0], case .int(let offset) = args[1],
                case .tuple(let size) = args[2], case .tuple(let stride) = args[3]
            else { throw Problem(message: "_rebuild_tensor_v2 with arguments of the wrong kinds") }
            let shape = try size.map { (value: Value) throws(Problem) -> Int in
                guard case .int(let n) = value, n >= 0 else { throw Problem(message: "a tensor size is not a count") }
                return n
            }
            let strides = try stride.map { (value: Value) throws(Problem) -> Int in
                guard case .int(let n) = value, n >= 0 else { throw Problem(message: "a tensor stride is not a count") }
                return n
            }
            guard shape.count == strides.count, offset >= 0 else {
                throw Problem(message: "a tensor's sizes and strides differ in length")
            }
            // The last element viewed must lie inside the storage.
            let last = shape.contains(0) ? 0 : zip(shape, strides).reduce(offset) { $0 + ($1.0 - 1) * $1.1 }
            guard shape.contains(0) || last < storage.count else {
                throw Problem(message: "a tensor views element \(last) of a storage of \(storage.count)")
            }
            return .tensor(TensorReference(storage: storage, offset: offset, shape: shape, strides: strides))
        default:
            throw Problem(message: "the pickle calls '\(name)' with arguments")
        }
    }

    private func persistent(_ id: Value) throws(Problem) -> Value {
        guard case .tuple(let parts) = id, parts.count >= 5, parts[0] == .string("storage"),
            case .global(let type) = parts[1], case .string(let key) = parts[2], case .int(let count) = parts[4],
            count >= 0, let dtype = TorchDType.storageNames[String(type.dropFirst("torch.".count))]
        else { throw Problem(message: "a persistent id that is not a torch storage") }
        return .storage(StorageReference(key: key, dtype: dtype, count: count))
    }

    private func pairs(_ items: [Value]) throws(Problem) -> [(Value, Value)] {
        guard items.count % 2 == 0 else { throw Problem(message: "a dictionary with a key and no value") }
        return stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) }
    }

    private func appending(_ items: [Value], to list: Value) throws(Problem) -> Value {
        guard case .list(let values) = list else { throw Problem(message: "APPEND to something that is not a list") }
        return .list(values + items)
    }

    private func setting(_ items: [(Value, Value)], in dict: Value) throws(Problem) -> Value {
        guard case .dict(var entries) = dict else { throw Problem(message: "SETITEM on something that is not a dict") }
        for (key, value) in items {
            if let index = entries.firstIndex(where: { $0.0 == key }) {
                entries[index].1 = value
            } else {
                entries.append((key, value))
            }
        }
        return .dict(entries)
    }

    // MARK: - Bytes

    private mutating func byte() throws(Problem) -> UInt8 {
        guard position < bytes.count else { throw Problem(message: "the pickle ends before its STOP") }
        position += 1
        return bytes[position - 1]
    }

    /// `count` bytes, checked against what is left before anything is allocated.
    private mutating func take(_ count: Int) throws(Problem) -> [UInt8] {
        guard count >= 0, count <= bytes.count - position else {
            throw Problem(message: "the pickle declares \(count) bytes where \(bytes.count - position) are left")
        }
        position += count
        return Array(bytes[(position - count)..<position])
    }

    /// A little-endian unsigned integer of `count` bytes.
    private mutating func integer(_ count: Int) throws(Problem) -> Int {
        let raw = try take(count)
        let value = raw.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard value <= UInt64(Int.max) else { throw Problem(message: "a size in the pickle is too large") }
        return Int(value)
    }

    private mutating func bigEndian(_ count: Int) throws(Problem) -> UInt64 {
        try take(count).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// A little-endian two's-complement integer of `count` bytes (LONG1). Longer than 8 bytes
    /// only torch's 10-byte magic number, kept by its low 64 bits.
    private mutating func long(_ count: Int) throws(Problem) -> Int {
        guard count <= 16 else { throw Problem(message: "an integer of \(count) bytes does not fit") }
        var raw = try take(count)
        if raw.count > 8 { raw = Array(raw.prefix(8)) }
        guard let top = raw.last else { return 0 }
        var value = raw.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if top & 0x80 != 0, raw.count < 8 { value |= ~UInt64(0) << (8 * UInt64(raw.count)) }
        return Int(bitPattern: UInt(value))
    }

    private mutating func text(_ count: Int) throws(Problem) -> String {
        String(decoding: try take(count), as: UTF8.self)
    }

    private mutating func line() throws(Problem) -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else {
            throw Problem(message: "a GLOBAL without its newline")
        }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }
}
