import Instruments
public import Transport

/// The host side of one Modbus RTU station on a serial line: the request-reply exchange every Modbus driver shares
/// (load cells, temperature controllers).
///
/// Frames are cut by length and CRC (a pseudo-terminal has no character timing); a reply with a bad CRC, from
/// another station, or for another function is discarded, and the request is retried. Bytes already waiting before a
/// request (a late reply to an earlier, timed-out one) are dropped so they cannot pass for its reply. An exception
/// reply is a rejection naming its code. Exchanges never interleave.
public actor ModbusClient {
    private let transport: any ByteTransport
    private let conversation = ConversationLock()
    private let station: UInt8
    private let replyTimeout: Duration
    private let attempts: Int
    /// How errors name the instrument ("Modbus load cell on /dev/ttyUSB1").
    public nonisolated let instrumentName: String

    /// `attempts` is how often a request is sent before a timeout or a corrupted reply is given up.
    public init(
        transport: any ByteTransport, station: Int, replyTimeout_s: Double, attempts: Int = 3, instrumentName: String
    ) {
        self.transport = transport
        self.station = UInt8(clamping: station)
        self.replyTimeout = .seconds(replyTimeout_s)
        self.attempts = max(1, attempts)
        self.instrumentName = instrumentName
    }

    /// The port, as the transport describes it.
    public nonisolated var portDescription: String { transport.portDescription }

    /// Reads `count` registers from `start` with function 03 or 04, each as received (high byte first).
    public func readRegisters(_ function: ModbusFunction, start: Int, count: Int) async throws -> [UInt16] {
        let request = ModbusRTU.readRequest(
            address: station, function: function, start: UInt16(start), count: UInt16(count))
        let payload = try await exchange(request).payload
        guard payload.count == 1 + 2 * count, Int(payload[0]) == payload.count - 1 else {
            throw InstrumentError(.invalidReply, instrument: instrumentName, "reply has \(payload.count) data bytes")
        }
        return stride(from: 1, to: payload.count, by: 2).map { UInt16(payload[$0]) << 8 | UInt16(payload[$0 + 1]) }
    }

    /// Writes one holding register with function 06; the station must echo the request.
    public func writeRegister(_ register: Int, value: UInt16) async throws {
        let request = ModbusRTU.writeSingleRequest(address: station, register: UInt16(register), value: value)
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
