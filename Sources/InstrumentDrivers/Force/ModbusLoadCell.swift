public import Domain
import Instruments
public import Transport

/// How a Modbus load cell's register contents decode into a force: the driver's reading of the rig file's map.
extension ModbusLoadCellConfiguration {
    /// Registers one reading spans: 1 for 16-bit values, 2 for 32-bit ones.
    public var registerCount: Int { valueType == .int16 || valueType == .uint16 ? 1 : 2 }

    /// Function 03 (holding registers) or 04 (input registers).
    public var readFunction: ModbusFunction {
        registerKind == .holding ? .readHoldingRegisters : .readInputRegisters
    }

    /// Decodes the registers of one reading, as received (each high byte first on the wire), into newtons; nil
    /// when their number does not fit the value type. A float32 that is not a number stays one: the rig flags it.
    public func force_N(registers: [UInt16]) -> Double? {
        guard registers.count == registerCount else { return nil }
        let words = registers.map { byteOrder.bytesSwapped ? $0.byteSwapped : $0 }
        let raw: Double
        switch valueType {
        case .int16: raw = Double(Int16(bitPattern: words[0]))
        case .uint16: raw = Double(words[0])
        case .int32, .uint32, .float32:
            let (high, low) = byteOrder.lowWordFirst ? (words[1], words[0]) : (words[0], words[1])
            let bits = UInt32(high) << 16 | UInt32(low)
            switch valueType {
            case .int32: raw = Double(Int32(bitPattern: bits))
            case .uint32: raw = Double(bits)
            default: raw = Double(Float(bitPattern: bits))
            }
        }
        return raw * newtonsPerCount
    }
}

/// A strain-gauge load cell behind a Modbus RTU transmitter or panel meter, read with function 03 or 04.
///
/// Frames are cut by length and CRC (a pseudo-terminal has no character timing); a reply with a bad CRC,
/// from another station, or for another function is discarded, and the request is retried. The reading is
/// decoded as the rig file's map says (value type, any of the four byte orders, newtons per count) and returned as
/// decoded, even when it is not a plausible force: the rig flags implausible pressures and refuses a run whose
/// first reading is one (a wrong byte order decodes to 1e13 N and more).
public actor ModbusLoadCell: ForceSensor {
    /// Modbus over serial line default: 19200 baud, 8 data bits, even parity, 1 stop bit.
    public static let defaultBaudRate = 19200

    /// The rig file's `pressure_sensor:` entry; its `line` was used to open the transport.
    public let configuration: ModbusLoadCellConfiguration
    private let transport: any ByteTransport
    private let conversation = ConversationLock()
    private let replyTimeout: Duration
    private let attempts: Int

    /// `attempts` is how often a request is sent before a timeout or a corrupted reply is given up.
    public init(transport: any ByteTransport, configuration: ModbusLoadCellConfiguration, attempts: Int = 3) {
        self.transport = transport
        self.configuration = configuration
        self.replyTimeout = .seconds(configuration.replyTimeout_s)
        self.attempts = max(1, attempts)
    }

    private nonisolated var instrumentName: String { "Modbus load cell on \(transport.portDescription)" }

    public func identify() async throws -> InstrumentIdentity {
        InstrumentIdentity(
            role: "pressure", model: configuration.model, firmware: "", serialNumber: configuration.serialNumber,
            port: transport.portDescription)
    }

    public func readForce_N() async throws -> Double {
        let request = ModbusRTU.readRequest(
            address: UInt8(configuration.stationAddress), function: configuration.readFunction,
            start: UInt16(configuration.register), count: UInt16(configuration.registerCount))
        let reply = try await exchange(request)
        let payload = reply.payload
        guard payload.count == 1 + 2 * configuration.registerCount, Int(payload[0]) == payload.count - 1 else {
            throw InstrumentError(.invalidReply, instrument: instrumentName, "reply has \(payload.count) data bytes")
        }
        let registers = stride(from: 1, to: payload.count, by: 2).map {
            UInt16(payload[$0]) << 8 | UInt16(payload[$0 + 1])
        }
        guard let force = configuration.force_N(registers: registers) else {
            throw InstrumentError(.invalidReply, instrument: instrumentName, "undecodable registers \(registers)")
        }
        return force
    }

    public func zero() async throws {
        guard let command = configuration.zeroCommand else {
            throw InstrumentError(
                .rejected, instrument: instrumentName,
                "\(configuration.model) has no zero command (the rig file's zero_command: {register, value})")
        }
        let request = ModbusRTU.writeSingleRequest(
            address: UInt8(configuration.stationAddress), register: UInt16(command.register),
            value: UInt16(command.value))
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
        try await exclusively(conversation, instrument: instrumentName) { try await exchangeHoldingLock(request) }
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
        throw InstrumentError(lastFailure, instrument: instrumentName)
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
