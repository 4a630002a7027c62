import Testing
import Transport

@Suite struct ScriptedTransportTests {
    let timeouts = ReceiveTimeouts(reply: .seconds(1))

    @Test func repliesBecomeReadableOnlyAfterTheirExpectationIsMet() async throws {
        let transport = ScriptedTransport([.expect("t\n"), .reply("tes4_hr\n")])
        await #expect(throws: TransportError.self) { try await transport.receive(maxCount: 64, timeouts: timeouts) }
        try await transport.send(Array("t".utf8))
        try await transport.send(Array("\n".utf8))
        let reply = try await transport.receive(maxCount: 64, timeouts: timeouts)
        #expect(reply == Array("tes4_hr\n".utf8))
        try await transport.verifyFinished()
    }

    @Test func mismatchedWriteIsThrownAndRecorded() async throws {
        let transport = ScriptedTransport([.expect("i\n")])
        await #expect(throws: ScriptedTransport.Mismatch.self) { try await transport.send(Array("t\n".utf8)) }
        #expect(await transport.mismatches.count == 1)
        await #expect(throws: ScriptedTransport.Mismatch.self) { try await transport.verifyFinished() }
    }

    @Test func unfinishedScriptFailsVerification() async throws {
        let transport = ScriptedTransport([.expect("a\n"), .expect("b\n")])
        try await transport.send(Array("a\n".utf8))
        await #expect(throws: ScriptedTransport.Mismatch.self) { try await transport.verifyFinished() }
    }

    @Test func unreadReplyFailsVerification() async throws {
        let transport = ScriptedTransport([.expect("a\n"), .reply("b\n")])
        try await transport.send(Array("a\n".utf8))
        await #expect(throws: ScriptedTransport.Mismatch.self) { try await transport.verifyFinished() }
    }

    @Test func receiveRespectsMaxCountAndKeepsTheRest() async throws {
        let transport = ScriptedTransport([.reply("abcdef")])
        #expect(try await transport.receive(maxCount: 4, timeouts: timeouts) == Array("abcd".utf8))
        #expect(try await transport.receive(maxCount: 4, timeouts: timeouts) == Array("ef".utf8))
    }

    @Test func hangUpTurnsReadsAndWritesIntoDisconnected() async throws {
        let transport = ScriptedTransport([.reply("x"), .hangUp])
        #expect(try await transport.receive(maxCount: 4, timeouts: timeouts) == [0x78])
        do {
            _ = try await transport.receive(maxCount: 4, timeouts: timeouts)
            Issue.record("expected a hang-up")
        } catch let error as TransportError {
            #expect(error.kind == .disconnected)
        }
        await #expect(throws: TransportError.self) { try await transport.send([0x01]) }
    }
}
