import Foundation

/// MD5 (RFC 1321), streamed: the hash Keras Applications publishes for its weight files, used to
/// recognise known files. Not for security.
public struct MD5 {
    private var state: (UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476)
    private var buffer: [UInt8] = []
    private var length: UInt64 = 0

    private static let shifts: [UInt32] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14,
        20,
        4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10,
        15, 21,
    ]
    private static let constants: [UInt32] = (0..<64).map {
        UInt32(truncatingIfNeeded: Int64(abs(sin(Double($0 + 1))) * 4_294_967_296))
    }

    public init() {}

    /// Adds bytes to the message.
    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { append(UnsafeRawBufferPointer($0)) }
        if done == nil { Array(bytes).withUnsafeBytes { append($0) } }
    }

    private mutating func append(_ raw: UnsafeRawBufferPointer) {
        guard let base = raw.baseAddress else { return }
        length &+= UInt64(raw.count)
        var offset = 0
        if !buffer.isEmpty {
            let take = min(64 - buffer.count, raw.count)
            buffer += raw[0..<take]
            offset = take
            if buffer.count == 64 {
                let block = buffer
                block.withUnsafeBytes { if let start = $0.baseAddress { compress(start) } }
                buffer.removeAll(keepingCapacity: true)
            }
        }
        while offset + 64 <= raw.count {
            compress(base + offset)
            offset += 64
        }
        buffer += raw[offset...]
    }

    /// The digest as 32 lowercase hex digits.
    public mutating func finalize() -> String {
        let bits = length &* 8
        var tail: [UInt8] = [0x80]
        while (buffer.count + tail.count) % 64 != 56 { tail.append(0) }
        tail += (0..<8).map { UInt8(truncatingIfNeeded: bits >> (8 * UInt64($0))) }
        update(tail)
        return [state.0, state.1, state.2, state.3].map { word in
            (0..<4).map { String(format: "%02x", (word >> (8 * UInt32($0))) & 0xFF) }.joined()
        }.joined()
    }

    /// One 64-byte block starting at `block` (unchecked pointers, no allocation: a 100 MB model
    /// file is hashed for every `extract`).
    private mutating func compress(_ block: UnsafeRawPointer) {
        var (a, b, c, d) = state
        Self.shifts.withUnsafeBufferPointer { shifts in
            Self.constants.withUnsafeBufferPointer { constants in
                for i in 0..<64 {
                    var f: UInt32
                    var g: Int
                    switch i {
                    case 0..<16: (f, g) = ((b & c) | (~b & d), i)
                    case 16..<32: (f, g) = ((d & b) | (~d & c), (5 * i + 1) & 15)
                    case 32..<48: (f, g) = (b ^ c ^ d, (3 * i + 5) & 15)
                    default: (f, g) = (c ^ (b | ~d), (7 * i) & 15)
                    }
                    let word = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 4 * g, as: UInt32.self))
                    f = f &+ a &+ constants[i] &+ word
                    a = d
                    d = c
                    c = b
                    b = b &+ (f << shifts[i] | f >> (32 - shifts[i]))
                }
            }
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d)
    }
}
