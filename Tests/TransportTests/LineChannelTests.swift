import Testing
import Transport

@Suite struct LineChannelTests {
    let framing = LineFramer.Configuration(terminator: .lf)

    @Test func readsLinesAssembledFromSeveralChunks() async throws {
        let transport = ScriptedTransport([
            .expect("t\n"), .reply("tes4"), .reply("_hr1100#Jan\nR"), .reply("*\n"),
        ])
        let channel = LineChannel(transport: transport, framing: framing)
        try await channel.send(line: "t")
        #expect(try await channel.readLine(timeout: .seconds(1)) == "tes4_hr1100#Jan")
        #expect(try await channel.readLine(timeout: .seconds(1)) == "R*")
        try await transport.verifyFinished()
    }

    @Test func timeoutCarriesTheRequestAndThePartialReply() async throws {
        let transport = ScriptedTransport([.expect("i\n"), .reply("i123")])
        let channel = LineChannel(transport: transport, framing: framing)
        try await channel.send(line: "i")
        do {
            _ = try await channel.readLine(timeout: .seconds(1))
            Issue.record("expected a timeout")
        } catch let error as TransportError {
            #expect(error.kind == .timeout)
            #expect(error.sent == Array("i\n".utf8))
            #expect(error.received == Array("i123".utf8))
            #expect(error.description.contains("sent \"i\\n\""))
        }
    }

    @Test func garbledLineIsAnErrorAndTheNextLineStillArrives() async throws {
        let transport = ScriptedTransport([.expect("?\r\n"), .reply([0x31, 0x80, 0x0A] + Array("12.5 N\n".utf8))])
        let channel = LineChannel(transport: transport, framing: framing, outgoingTerminator: "\r\n")
        try await channel.send(line: "?")
        do {
            _ = try await channel.readLine(timeout: .seconds(1))
            Issue.record("expected a garbled line")
        } catch let error as TransportError {
            #expect(error.kind == .garbled)
            #expect(error.sent == Array("?\r\n".utf8))
        }
        #expect(try await channel.readLine(timeout: .seconds(1)) == "12.5 N")
    }

    @Test func drainDiscardsBufferedAndArrivingBytes() async throws {
        let transport = ScriptedTransport([.reply("P1\nP2\npar"), .reply("tial")])
        let channel = LineChannel(transport: transport, framing: framing)
        #expect(try await channel.readLine(timeout: .seconds(1)) == "P1")
        let discarded = try await channel.drain(quietPeriod: .milliseconds(1))
        #expect(discarded == Array("partial".utf8))
        await #expect(throws: TransportError.self) { try await channel.readLine(timeout: .milliseconds(1)) }
    }
}
