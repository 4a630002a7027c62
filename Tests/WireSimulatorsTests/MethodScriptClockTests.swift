import Domain
import Testing
import Transport
import WireSimulators

/// The instrument end of an in-memory pipe whose listener is slow: each chunk the host sent is handed to the
/// simulator `delay` after it arrived, and counts as not yet received meanwhile (a simulator whose command reader
/// waits for a CPU while its measurement loop runs on).
private actor SlowListeningEnd: OutputBacklogReporting {
    nonisolated let portDescription = "slow listener"
    private let inner: InMemoryTransport
    private let delay: Duration
    private var held = 0

    init(_ inner: InMemoryTransport, delay: Duration) {
        self.inner = inner
        self.delay = delay
    }

    func send(_ bytes: [UInt8]) async throws { try await inner.send(bytes) }

    func receive(maxCount: Int, timeouts: ReceiveTimeouts) async throws -> [UInt8] {
        let chunk = try await inner.receive(maxCount: maxCount, timeouts: timeouts)
        held += chunk.count
        try? await Task.sleep(for: delay)
        held -= chunk.count
        return chunk
    }

    func close() async { await inner.close() }
    func unreadOutputByteCount() async -> Int { await inner.unreadOutputByteCount() }
    func unreceivedInputByteCount() async -> Int { await inner.unreceivedInputByteCount() + held }
}

@Suite struct MethodScriptClockTests {
    @Test("at unlimited speed the simulator measures no further while an abort the host sent waits to be read")
    func abortIsHeardBeforeTheNextPoint() async throws {
        let simulator = MethodScriptSimulator(cell: OhmicCell(resistance_Ohm: 400, openCircuitVoltage_V: 0.05))
        let (hostEnd, instrumentEnd) = await InMemoryTransport.pair()
        let serving = Task { await simulator.serve(on: SlowListeningEnd(instrumentEnd, delay: .milliseconds(300))) }
        let host = LineChannel(transport: hostEnd, framing: LineFramer.Configuration(terminator: .lf))
        func read() async throws -> String { try await host.readLine(timeout: .seconds(30)) }
        for line in [
            "e", "var p", "var i", "cell_on", "meas_loop_ca p i 100m 100m 100000", "pck_start", "pck_add p",
            "pck_add i", "pck_end", "endloop", "on_finished:", "cell_off", "",
        ] {
            try await host.send(line: line)
        }
        #expect(try await read() == "e")
        #expect(try await read() == "M0007")
        #expect(try await read().hasPrefix("Pda"))
        let packagesBeforeAbort = await simulator.sentSampleCount
        try await host.send(line: "Z")
        // The host reads on at once, as a driver stopping a script does; the simulated instrument must not take
        // the 300 ms its listener needs as 300 ms of readings.
        var tail: [String] = []
        while tail.last != "" { tail.append(try await read()) }
        let packagesAfterAbort = tail.filter { $0.hasPrefix("P") }.count
        #expect(tail.filter { !$0.hasPrefix("P") } == ["Z", "*", ""])
        #expect(packagesAfterAbort <= 2, "\(packagesAfterAbort) packages after the abort was sent")
        #expect(await simulator.sentSampleCount == packagesBeforeAbort + packagesAfterAbort)
        #expect(await !simulator.isCellOn)
        serving.cancel()
        await instrumentEnd.close()
        await host.close()
        await serving.value
    }
}
