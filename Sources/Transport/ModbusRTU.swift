/// Modbus RTU framing: CRC-16/MODBUS and the request shapes the load-cell driver uses.
public enum ModbusRTU {
    /// CRC-16/MODBUS: reflected polynomial 0xA001, initial value 0xFFFF. Sent low byte first.
    public static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0xFFFF
        for byte in bytes {
            crc ^= UInt16(byte)
            for _ in 0..<8 {
                let lowBitSet = crc & 1 == 1
                crc >>= 1
                if lowBitSet { crc ^= 0xA001 }
            }
        }
        return crc
    }

    /// `body` followed by its CRC, low byte first.
    public static func appendingCRC(_ body: [UInt8]) -> [UInt8] {
        let crc = crc16(body)
        return body + [UInt8(crc & 0xFF), UInt8(crc >> 8)]
    }

    /// Whether the last two bytes of `frame` are the CRC of the bytes before them.
    public static func hasValidCRC(_ frame: [UInt8]) -> Bool {
        guard frame.count >= 4 else { return false }
        let body = frame.dropLast(2)
        let crc = crc16(body)
        return frame[frame.count - 2] == UInt8(crc & 0xFF) && frame[frame.count - 1] == UInt8(crc >> 8)
    }

    /// A read request (function 03 holding or 04 input registers): `count` registers from `start`.
    public static func readRequest(address: UInt8, function: ModbusFunction, start: UInt16, count: UInt16) -> [UInt8] {
        appendingCRC([address, function.rawValue] + bigEndian(start) + bigEndian(count))
    }

    /// A write-single-register request (function 06).
    public static func writeSingleRequest(address: UInt8, register: UInt16, value: UInt16) -> [UInt8] {
        appendingCRC([address, ModbusFunction.writeSingleRegister.rawValue] + bigEndian(register) + bigEndian(value))
    }

    /// The two bytes of `value`, high byte first (Modbus register order).
    public static func bigEndian(_ value: UInt16) -> [UInt8] {
        [UInt8(value >> 8), UInt8(value & 0xFF)]
    }
}

/// The Modbus function codes the drivers and simulators use.
public enum ModbusFunction: UInt8, Sendable, Hashable, Codable {
    case readHoldingRegisters = 0x03
    case readInputRegisters = 0x04
    case writeSingleRegister = 0x06
    case writeMultipleRegisters = 0x10
}

/// Modbus exception codes (reply function code with bit 7 set, then this code).
public enum ModbusExceptionCode: UInt8, Sendable, Hashable {
    case illegalFunction = 0x01
    case illegalDataAddress = 0x02
    case illegalDataValue = 0x03
    case serverDeviceFailure = 0x04
    case serverDeviceBusy = 0x06
}

/// One Modbus RTU frame with a valid CRC.
public struct ModbusRTUFrame: Sendable, Hashable {
    public var address: UInt8
    /// The function code as sent, including bit 7 for exception replies.
    public var functionCode: UInt8
    /// The bytes between the function code and the CRC.
    public var payload: [UInt8]

    public init(address: UInt8, functionCode: UInt8, payload: [UInt8]) {
        self.address = address
        self.functionCode = functionCode
        self.payload = payload
    }

    /// Whether this is an exception reply.
    public var isException: Bool { functionCode & 0x80 != 0 }

    /// The frame on the wire, CRC included.
    public var bytes: [UInt8] { ModbusRTU.appendingCRC([address, functionCode] + payload) }
}

/// Cuts Modbus RTU frames out of a byte stream by their expected length and CRC.
///
/// A pseudo-terminal has no character timing, so instead of the 3.5-character silence this framer derives each
/// frame's length from its function code (and byte count) and checks the CRC. When a candidate frame fails
/// the CRC, one byte is discarded and framing restarts at the next byte, which resynchronises after garbage.
public struct ModbusRTUFramer: Sendable {
    /// Which side's frames to parse.
    public enum Role: Sendable, Hashable {
        /// Parse replies (the host side).
        case client
        /// Parse requests (the instrument side, in simulators).
        case server
    }

    /// One framed unit.
    public enum Output: Sendable, Hashable {
        case frame(ModbusRTUFrame)
        /// Bytes skipped while resynchronising.
        case discarded([UInt8])
    }

    public let role: Role
    private var buffer: [UInt8] = []
    private var discardRun: [UInt8] = []
    private static let maximumFrameLength = 256

    public init(role: Role) {
        self.role = role
    }

    /// Bytes of the frame currently being assembled.
    public var pendingBytes: [UInt8] { buffer }

    /// Forgets any partial frame (call after a silent gap or a timeout).
    public mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
        discardRun.removeAll()
    }

    /// Consumes `bytes` and returns the frames they complete (preceded by any discarded garbage).
    public mutating func push(_ bytes: some Sequence<UInt8>) -> [Output] {
        buffer.append(contentsOf: bytes)
        var outputs: [Output] = []
        while let length = expectedLength() {
            guard buffer.count >= length else { break }
            let candidate = Array(buffer.prefix(length))
            if length >= 4, ModbusRTU.hasValidCRC(candidate) {
                if !discardRun.isEmpty {
                    outputs.append(.discarded(discardRun))
                    discardRun.removeAll()
                }
                buffer.removeFirst(length)
                outputs.append(
                    .frame(
                        ModbusRTUFrame(
                            address: candidate[0], functionCode: candidate[1],
                            payload: Array(candidate[2..<(length - 2)]))))
            } else {
                discardRun.append(buffer.removeFirst())
            }
        }
        if !discardRun.isEmpty {
            outputs.append(.discarded(discardRun))
            discardRun.removeAll()
        }
        return outputs
    }

    /// The length of the frame starting at the buffer's first byte; nil when more bytes are needed to know.
    /// Returns 0 (forcing a one-byte discard) when the first bytes cannot start a frame.
    private func expectedLength() -> Int? {
        guard buffer.count >= 2 else { return nil }
        let address = buffer[0]
        let function = buffer[1]
        if address > 247 { return 0 }
        switch role {
        case .client:
            if function & 0x80 != 0 { return 5 }
            switch function {
            case 0x01...0x04:
                guard buffer.count >= 3 else { return nil }
                let length = 5 + Int(buffer[2])
                return length <= Self.maximumFrameLength ? length : 0
            case 0x05, 0x06, 0x0F, 0x10: return 8
            default: return 0
            }
        case .server:
            switch function {
            case 0x01...0x06: return 8
            case 0x0F, 0x10:
                guard buffer.count >= 7 else { return nil }
                let length = 9 + Int(buffer[6])
                return length <= Self.maximumFrameLength ? length : 0
            default: return 0
            }
        }
    }
}
