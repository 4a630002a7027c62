import Testing
import Transport

@Suite struct InMemoryTransportTests {
    @Test func bytesSentOnOneEndArriveOnTheOther() async throws {
        let (host, instrument) = await InMemoryTransport.pair()
        try await host.send(Array("t\n".utf8))
        #expect(await host.unreadOutputByteCount() == 2)
        let received = try await instrument.receive(maxCount: 16, timeouts: ReceiveTimeouts(reply: .seconds(5)))
        #expect(received == Array("t\n".utf8))
        #expect(await host.unreadOutputByteCount() == 0)
    }

    @Test func receiveWaitsForBytesSentLater() async throws {
        let (host, instrument) = await InMemoryTransport.pair()
        let reader = Task {
            try await host.receive(maxCount: 4, timeouts: ReceiveTimeouts(reply: .seconds(10), interByte: .seconds(10)))
        }
        try await instrument.send([1, 2])
        try await Task.sleep(for: .milliseconds(10))
        try await instrument.send([3, 4, 5])
        #expect(try await reader.value == [1, 2, 3, 4])
        #expect(try await host.receive(maxCount: 4, timeouts: ReceiveTimeouts(reply: .zero)) == [5])
    }

    @Test func nothingToReadIsATimeout() async throws {
        let (host, _) = await InMemoryTransport.pair()
        do {
            _ = try await host.receive(maxCount: 1, timeouts: ReceiveTimeouts(reply: .milliseconds(20)))
            Issue.record("expected a timeout")
        } catch let error as TransportError {
            #expect(error.kind == .timeout)
        }
    }

    @Test func closingOneEndHangsUpTheOtherEvenWhileItWaits() async throws {
        let (host, instrument) = await InMemoryTransport.pair()
        let reader = Task { () -> TransportError.Kind? in
            do {
                _ = try await host.receive(maxCount: 1, timeouts: ReceiveTimeouts(reply: .seconds(30)))
                return nil
            } catch let error as TransportError {
                return error.kind
            } catch {
                return nil
            }
        }
        try await Task.sleep(for: .milliseconds(10))
        await instrument.close()
        #expect(await reader.value == .disconnected)
        await #expect(throws: TransportError.self) { try await host.send([1]) }
        await #expect(throws: TransportError.self) { try await instrument.send([1]) }
    }
}
