import Transport

/// The request handling the Modbus RTU simulators share, written from the Modbus over Serial Line specification:
/// framing requests off the line, answering only the simulator's own station (broadcasts and other stations get no
/// reply), and function 03 and 04 reads and 06 writes with their exceptions (01 for other functions, 02 for
/// registers the device does not have, 03 for a malformed request or a register count outside 1...125).
enum ModbusResponder {
    /// Reads requests from `transport` until it is closed or the task is cancelled; each request addressed to
    /// `station` goes to `reply`, and what it returns (nil: nothing) is sent back. Runs on the caller's actor.
    static func serve(
        on transport: any ByteTransport, station: UInt8, isolation: isolated (any Actor)? = #isolation,
        reply: (ModbusRTUFrame) async -> [UInt8]?
    ) async {
        var framer = ModbusRTUFramer(role: .server)
        while !Task.isCancelled {
            let chunk: [UInt8]
            do {
                chunk = try await transport.receive(maxCount: 256, timeouts: ReceiveTimeouts(reply: .seconds(1)))
            } catch let error as TransportError where error.kind == .timeout {
                framer.reset()
                continue
            } catch {
                return
            }
            for output in framer.push(chunk) {
                guard case .frame(let request) = output, request.address == station else { continue }
                if let bytes = await reply(request) { try? await transport.send(bytes) }
            }
        }
    }

    /// The answer to `request`: a read returns the registers `read` gives (exception 02 at the first it has not),
    /// a single write echoes the request unless `write` refuses it with an exception.
    static func answer(
        _ request: ModbusRTUFrame, read: (Int) -> UInt16?, write: (Int, UInt16) -> ModbusExceptionCode?
    ) -> ModbusRTUFrame {
        func exception(_ code: ModbusExceptionCode) -> ModbusRTUFrame {
            ModbusRTUFrame(
                address: request.address, functionCode: request.functionCode | 0x80, payload: [code.rawValue])
        }
        let payload = request.payload
        guard payload.count >= 4 else { return exception(.illegalDataValue) }
        let first = Int(payload[0]) << 8 | Int(payload[1])
        let second = UInt16(payload[2]) << 8 | UInt16(payload[3])
        switch request.functionCode {
        case ModbusFunction.readHoldingRegisters.rawValue, ModbusFunction.readInputRegisters.rawValue:
            guard second >= 1, second <= 125 else { return exception(.illegalDataValue) }
            var data: [UInt8] = [UInt8(second * 2)]
            for address in first..<(first + Int(second)) {
                guard let value = read(address) else { return exception(.illegalDataAddress) }
                data += ModbusRTU.bigEndian(value)
            }
            return ModbusRTUFrame(address: request.address, functionCode: request.functionCode, payload: data)
        case ModbusFunction.writeSingleRegister.rawValue:
            if let refusal = write(first, second) { return exception(refusal) }
            return request
        default:
            return exception(.illegalFunction)
        }
    }

    /// Whether `request` reads registers (function 03 or 04).
    static func isRead(_ request: ModbusRTUFrame) -> Bool {
        request.functionCode == ModbusFunction.readHoldingRegisters.rawValue
            || request.functionCode == ModbusFunction.readInputRegisters.rawValue
    }
}
