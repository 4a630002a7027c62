public import Domain
import Instruments
public import Transport

/// Where and how a Modbus RTU load-cell transmitter publishes its force reading.
///
/// Manuals number registers from 1 ("40001"); `register` here is the 0-based address on the wire
/// (40001 -> 0). 32-bit values span two registers in either word order.
public struct ModbusRegisterMap: Sendable, Hashable, Codable {
    /// How the register contents encode the reading.
    public enum ValueType: String, Sendable, Hashable, Codable {
        case int16
        case uint16
        case int32
        case uint32
        case float32

        var registerCount: UInt16 { self == .int16 || self == .uint16 ? 1 : 2 }
    }

    /// Order of the two registers of a 32-bit value.
    public enum WordOrder: String, Sendable, Hashable, Codable {
        /// High word first (ABCD), the Modbus convention.
        case highWordFirst = "high-word-first"
        /// Low word first (CDAB), common in meters.
        case lowWordFirst = "low-word-first"
    }

    /// A register write that zeroes (tares) the transmitter.
    public struct ZeroCommand: Sendable, Hashable, Codable {
        public var register: UInt16
        public var value: UInt16

        public init(register: UInt16, value: UInt16) {
            self.register = register
            self.value = value
        }
    }

    public var model: String
    /// Station address, 1 to 247.
    public var stationAddress: UInt8
    /// Holding (03) or input (04) registers.
    public var readFunction: ModbusFunction
    public var register: UInt16
    public var valueType: ValueType
    public var wordOrder: WordOrder
    /// Newtons per raw count (or per unit for float32), e.g. 0.01 for a reading in centinewtons,
    /// 9.80665 for a float in kilograms-force.
    public var newtonsPerCount: Double
    public var zeroCommand: ZeroCommand?

    public init(
        model: String, stationAddress: UInt8 = 1, readFunction: ModbusFunction = .readHoldingRegisters,
        register: UInt16, valueType: ValueType, wordOrder: WordOrder = .highWordFirst, newtonsPerCount: Double,
        zeroCommand: ZeroCommand? = nil
    ) {
        self.model = model
        self.stationAddress = stationAddress
        self.readFunction = readFunction
        self.register = register
        self.valueType = valueType
        self.wordOrder = wordOrder
        self.newtonsPerCount = newtonsPerCount
        self.zeroCommand = zeroCommand
    }

    /// Decodes the registers of one reading into newtons.
    public func force_N(registers: [UInt16]) -> Double? {
        guard registers.count == Int(valueType.registerCount) else { return nil }
        let raw: Double
        switch valueType {
        case .int16: raw = Double(Int16(bitPattern: registers[0]))
        case .uint16: raw = Double(registers[0])
        case .int32, .uint32, .float32:
            let (high, low) = wordOrder == .highWordFirst ? (registers[0], registers[1]) : (registers[1], registers[0])
            let bits = UInt32(high) << 16 | UInt32(low)
            switch valueType {
            case .int32: raw = Double(Int32(bitPattern: bits))
            case .uint32: raw = Double(bits)
            default: raw = Double(Float(bitPattern: bits))
            }
        }
        return raw * newtonsPerCount
    }

    /// Encodes a force into the registers of one reading (for simulators and tests).
    public func registers(force_N: Double) -> [UInt16] {
        let raw = force_N / newtonsPerCount
        let bits: UInt32
        switch valueType {
        case .int16: return [UInt16(bitPattern: Int16(clamping: Int(raw.rounded())))]
        case .uint16: return [UInt16(clamping: max(0, Int(raw.rounded())))]
        case .int32: bits = UInt32(bitPattern: Int32(clamping: Int(raw.rounded())))
        case .uint32: bits = UInt32(clamping: max(0, Int(raw.rounded())))
        case .float32: bits = Float(raw).bitPattern
        }
        let high = UInt16(bits >> 16)
        let low = UInt16(bits & 0xFFFF)
        return wordOrder == .highWordFirst ? [high, low] : [low, high]
    }
}

/// A strain-gauge load cell behind a Modbus RTU transmitter or panel meter, read with function 03 or 04.
///
/// Frames are cut by length and CRC (a pseudo-terminal has no character timing); a reply with a bad CRC,
/// from another station, or for another function is discarded, and the request is retried.
public actor ModbusLoadCell: ForceSensor {
    /// Modbus over serial line default: 19200 baud, 8 data bits, even parity, 1 stop bit.
    public static let defaultBaudRate = 19200

    public let map: ModbusRegisterMap
    private let transport: any ByteTransport
    private let conversation = ConversationLock()
    private let replyTimeout: Duration
    private let attempts: Int
    private let serialNumber: String

    public init(
        transport: any ByteTransport, map: ModbusRegisterMap, serialNumber: String = "",
        replyTimeout: Duration = .seconds(1),
        attempts: Int = 3
    ) {
        self.transport = transport
        self.map = map
        self.serialNumber = serialNumber
        self.replyTimeout = replyTimeout
        self.attempts = max(1, attempts)
    }

    private nonisolated var instrumentName: String { "Modbus load cell on \(transport.portDescription)" }

    public func identify() async throws -> InstrumentIdentity {
        InstrumentIdentity(
            role: "pressure", model: map.model, firmware: "", serialNumber: serialNumber,
            port: transport.portDescription)
    }

    public func readForce_N() async throws -> Double {
        let request = ModbusRTU.readRequest(
            address: map.stationAddress, function: map.readFunction, start: map.register,
            count: map.valueType.registerCount)
        let reply = try await exchange(request)
        let payload = reply.payload
        guard payload.count == 1 + 2 * Int(map.valueType.registerCount), Int(payload[0]) == payload.count - 1 else {
            throw InstrumentError(.invalidReply, instrument: instrumentName, "reply has \(payload.count) data bytes")
        }
        let registers = stride(from: 1, to: payload.count, by: 2).map {
            UInt16(payload[$0]) << 8 | UInt16(payload[$0 + 1])
        }
        guard let force = map.force_N(registers: registers), force.isFinite else {
            throw InstrumentError(.invalidReply, instrument: instrumentName, "undecodable registers \(registers)")
        }
        return force
    }

    public func zero() async throws {
        guard let command = map.zeroCommand else {
            throw InstrumentError(.rejected, instrument: instrumentName, "\(map.model) has no zero command in its map")
        }
        let request = ModbusRTU.writeSingleRequest(
            address: map.stationAddress, register: command.register, value: command.value)
        let reply = try await exchange(request)
        guard reply.bytes == request else {
            throw InstrumentError(.invalidReply, instrument: instrumentName, "write not echoed")
        }
    }

    /// Closes the port.
    public func close() async {
        await transport.close()
    }

    /// Sends `request` and returns the matching reply, retrying after timeouts and corrupted replies.
    private func exchange(_ request: [UInt8]) async throws -> ModbusRTUFrame {
        await conversation.acquire()
        do {
            let reply = try await exchangeHoldingLock(request)
            await conversation.release()
            return reply
        } catch {
            await conversation.release()
            throw error
        }
    }

    private func exchangeHoldingLock(_ request: [UInt8]) async throws -> ModbusRTUFrame {
        var lastFailure = TransportError(.timeout, port: transport.portDescription, "no reply", sent: request)
        let expectedLength =
            request[1] == ModbusFunction.writeSingleRegister.rawValue
            ? 8 : 5 + 2 * (Int(request[4]) << 8 | Int(request[5]))
        attempt: for _ in 0..<attempts {
            var framer = ModbusRTUFramer(role: .client)
            var received: [UInt8] = []
            do {
                try await discardStaleBytes()
                try await transport.send(request)
                let clock = ContinuousClock()
                let deadline = clock.now.advanced(by: replyTimeout)
                while true {
                    let chunk = try await transport.receive(
                        maxCount: 256, timeouts: ReceiveTimeouts(reply: max(.zero, clock.now.duration(to: deadline))))
                    received += chunk
                    for output in framer.push(chunk) {
                        guard case .frame(let frame) = output, frame.address == request[0],
                            frame.functionCode & 0x7F == request[1]
                        else { continue }
                        if frame.isException {
                            let code = frame.payload.first.map { ModbusExceptionCode(rawValue: $0) } ?? nil
                            throw InstrumentError(
                                .rejected, instrument: instrumentName,
                                "exception \(frame.payload.first ?? 0) (\(code.map { "\($0)" } ?? "unknown"))")
                        }
                        return frame
                    }
                    if received.count >= expectedLength {
                        // A whole reply's worth of bytes and nothing valid in it: corrupted, ask again now.
                        lastFailure = TransportError(
                            .garbled, port: transport.portDescription, "reply failed its CRC", sent: request,
                            received: received)
                        continue attempt
                    }
                }
            } catch let error as TransportError {
                lastFailure = error.with(sent: request, received: received)
                if error.kind != .timeout { break }
            }
        }
        throw InstrumentError(lastFailure.instrumentErrorCode, instrument: instrumentName, lastFailure.description)
    }

    /// Drops bytes already waiting (a late reply to an earlier, timed-out request) so they cannot pass for
    /// the reply to the next one.
    private func discardStaleBytes() async throws {
        while true {
            do {
                _ = try await transport.receive(maxCount: 256, timeouts: ReceiveTimeouts(reply: .zero))
            } catch let error as TransportError where error.kind == .timeout {
                return
            }
        }
    }
}
