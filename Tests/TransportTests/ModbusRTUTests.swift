import Testing
import Transport

@Suite struct ModbusRTUTests {
    @Test func crcMatchesTheStandardCheckValue() {
        #expect(ModbusRTU.crc16(Array("123456789".utf8)) == 0x4B37)
    }

    @Test func readHoldingRequestMatchesTheSpecificationExample() {
        let request = ModbusRTU.readRequest(address: 1, function: .readHoldingRegisters, start: 0, count: 2)
        #expect(request == [0x01, 0x03, 0x00, 0x00, 0x00, 0x02, 0xC4, 0x0B])
        #expect(ModbusRTU.hasValidCRC(request))
    }

    @Test func corruptedFrameFailsTheCRC() {
        var request = ModbusRTU.readRequest(address: 1, function: .readInputRegisters, start: 0x1000, count: 2)
        request[3] ^= 0x01
        #expect(!ModbusRTU.hasValidCRC(request))
    }

    @Test func writeSingleRequestEncodesRegisterAndValueBigEndian() {
        let request = ModbusRTU.writeSingleRequest(address: 0x11, register: 0x0102, value: 0xA0B0)
        #expect(Array(request.prefix(6)) == [0x11, 0x06, 0x01, 0x02, 0xA0, 0xB0])
        #expect(ModbusRTU.hasValidCRC(request))
    }
}

@Suite struct ModbusRTUFramerTests {
    let reply = ModbusRTUFrame(address: 1, functionCode: 0x03, payload: [0x04, 0x41, 0x20, 0x00, 0x00])
    let exception = ModbusRTUFrame(address: 1, functionCode: 0x83, payload: [0x02])

    @Test func framesReplyAndExceptionFedByteByByte() {
        var framer = ModbusRTUFramer(role: .client)
        var outputs: [ModbusRTUFramer.Output] = []
        for byte in reply.bytes + exception.bytes { outputs += framer.push([byte]) }
        #expect(outputs == [.frame(reply), .frame(exception)])
        #expect(exception.isException)
    }

    @Test func framingDoesNotDependOnWhereTheStreamSplits() {
        let stream = reply.bytes + exception.bytes + reply.bytes
        for offset in 0...stream.count {
            var framer = ModbusRTUFramer(role: .client)
            let outputs = framer.push(stream[..<offset]) + framer.push(stream[offset...])
            #expect(outputs == [.frame(reply), .frame(exception), .frame(reply)], "split at \(offset)")
        }
    }

    @Test func resynchronisesAfterGarbageAndNulBytes() {
        let garbage: [UInt8] = [0x00, 0x00, 0xFF, 0x03, 0x7E]
        var framer = ModbusRTUFramer(role: .client)
        let outputs = framer.push(garbage + reply.bytes)
        let frames = outputs.compactMap { output -> ModbusRTUFrame? in
            if case .frame(let frame) = output { return frame }
            return nil
        }
        let discarded = outputs.flatMap { output -> [UInt8] in
            if case .discarded(let bytes) = output { return bytes }
            return []
        }
        #expect(frames == [reply])
        #expect(discarded == garbage)
    }

    @Test func frameWithBadCRCIsNotDelivered() {
        var corrupted = reply.bytes
        corrupted[4] ^= 0x10
        var framer = ModbusRTUFramer(role: .client)
        let outputs = framer.push(corrupted)
        #expect(!outputs.contains { if case .frame = $0 { true } else { false } })
    }

    @Test func serverRoleFramesReadAndWriteRequests() {
        let read = ModbusRTU.readRequest(address: 7, function: .readInputRegisters, start: 8, count: 2)
        let write = ModbusRTU.writeSingleRequest(address: 7, register: 1, value: 2)
        var framer = ModbusRTUFramer(role: .server)
        var outputs: [ModbusRTUFramer.Output] = []
        for byte in read + write { outputs += framer.push([byte]) }
        #expect(
            outputs == [
                .frame(ModbusRTUFrame(address: 7, functionCode: 0x04, payload: [0, 8, 0, 2])),
                .frame(ModbusRTUFrame(address: 7, functionCode: 0x06, payload: [0, 1, 0, 2])),
            ])
    }
}
