import Domain
import InstrumentDrivers
import Instruments
import SerialTransport
import Testing
import Transport
import WireSimulators

/// Talks to a simulator over a real pseudo-terminal, the way a host would, without the driver.
private struct RawHost {
    let port: SimulatedPort
    let channel: LineChannel

    init(_ simulator: MethodScriptSimulator) throws {
        port = try SimulatedPort.start(simulator)
        let transport = try SerialPortTransport(line: SerialLineConfiguration(port: port.path, baudRate: 921_600))
        channel = LineChannel(transport: transport, framing: LineFramer.Configuration(terminator: .lf))
    }

    func ask(_ lines: [String]) async throws {
        for line in lines { try await channel.send(line: line) }
    }

    func read() async throws -> String { try await channel.readLine(timeout: .seconds(30)) }

    /// Waits out the instrument's hold-off after an error reply (the manual's 50 ms, doubled).
    func holdOff() async throws { try await Task.sleep(for: .milliseconds(100)) }

    func finish() async {
        await channel.close()
        await port.stop()
    }
}

private let ohmic = OhmicCell(resistance_Ohm: 400, openCircuitVoltage_V: 0.05)

/// Polls a condition (every 10 ms, for up to 10 s).
enum TestSupportWait {
    static func until(_ condition: () async -> Bool) async throws -> Bool {
        for _ in 0..<1000 {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }
}

@Suite struct MethodScriptSimulatorTests {
    @Test func answersOnlineCommandsAsTheCommandSetDescribes() async throws {
        let host = try RawHost(MethodScriptSimulator(cell: ohmic))
        try await host.ask(["t"])
        #expect(try await host.read() == "tes4_hr1100#Jan 28 2022 11:04:43")
        #expect(try await host.read() == "R*")
        try await host.ask(["i"])
        #expect(try await host.read() == "iES4HR-SIM-0001")
        try await host.ask(["", "Z"])
        #expect(try await host.read() == "Z!0006")
        try await host.holdOff()
        try await host.ask(["q"])
        #expect(try await host.read() == "q!0003")
        try await host.holdOff()
        try await host.ask(["r"])
        #expect(try await host.read() == "r!000C")
        await host.finish()
    }

    @Test(arguments: [
        (["var p", "bogus 1"], "e!4001: Line 2, Col 1"),
        (["var p", "timer_get q"], "e!420B: Line 2, Col 11"),
        (["var p", "set_range db 0.25m"], "e!4004: Line 2, Col 14"),
        (["var p", "var p"], "e!4026: Line 2, Col 5"),
        (
            ["var p", "var i", "meas_loop_cp p i 1m 1 10", "meas_loop_ocp p 1 1", "endloop", "endloop"],
            "e!400B: Line 4, Col 1"
        ),
        (["var p", "var i", "meas_loop_cp p i 1m 1 10", "pck_start"], "e!4018: Line 3, Col 1"),
    ])
    func rejectsInvalidScriptsWithPosition(script: [String], reply: String) async throws {
        let host = try RawHost(MethodScriptSimulator(cell: ohmic))
        try await host.ask(["e"] + script + [""])
        #expect(try await host.read() == reply)
        await host.finish()
    }

    @Test("after a reply containing ! the instrument ignores what arrives during its hold-off, then listens again")
    func errorRepliesAreFollowedByAHoldOff() async throws {
        // A 3 s hold-off instead of 50 ms, so that the host's answer surely falls inside it on a loaded machine.
        var device = MethodScriptSimulator.Device.emStat4HR
        device.errorHoldOff = .seconds(3)
        let simulator = MethodScriptSimulator(cell: ohmic, device: device)
        let host = try RawHost(simulator)
        try await host.ask(["Z"])
        #expect(try await host.read() == "Z!0006")
        let replied = ContinuousClock.now  // after the reply left the instrument, so after its hold-off began
        try await host.ask(["i"])  // at once: not heard
        let ignored = try await TestSupportWait.until { await simulator.ignoredByteCount == 2 }
        #expect(ignored, "the i and its LF were dropped")
        try await Task.sleep(until: replied + .seconds(3.5))
        try await host.ask(["i"])
        #expect(try await host.read() == "iES4HR-SIM-0001", "the first line after the hold-off is the reply to i")
        #expect(await simulator.ignoredByteCount == 2)
        await host.finish()
    }

    @Test func constantCurrentLoopStreamsEncodedOhmicReadingsAndStopsAtItsDuration() async throws {
        let host = try RawHost(MethodScriptSimulator(cell: ohmic))
        try await host.ask([
            "e", "var p", "var i", "var t", "set_pgstat_mode 6", "cell_on", "timer_start",
            "meas_loop_cp p i 250u 500m 1500m", "timer_get t", "pck_start", "pck_add t", "pck_add p", "pck_add i",
            "pck_end", "endloop", "on_finished:", "cell_off", "",
        ])
        #expect(try await host.read() == "e")
        #expect(try await host.read() == "M000A")
        // t = 0.5 s, p = 0.05 + 250 uA * 400 Ohm = 0.15 V, i = 250 uA (status 0, range 21 = 1 mA)
        #expect(try await host.read() == "Peb807A120u;ab80249F0u;ba803D090n,10,215")
        #expect(try await host.read() == "Peb80F4240u;ab80249F0u;ba803D090n,10,215")
        #expect(try await host.read() == "Peb816E360u;ab80249F0u;ba803D090n,10,215")
        #expect(try await host.read() == "*")
        #expect(try await host.read() == "")
        await host.finish()
    }

    @Test func abortEndsTheLoopRunsOnFinishedAndEndsTheStream() async throws {
        let simulator = MethodScriptSimulator(cell: ohmic)
        let host = try RawHost(simulator)
        try await host.ask([
            "e", "var p", "var i", "cell_on", "meas_loop_cp p i 1m 1 100000", "pck_start", "pck_add p", "pck_end",
            "endloop", "on_finished:", "cell_off", "",
        ])
        #expect(try await host.read() == "e")
        #expect(try await host.read() == "M000A")
        #expect(try await host.read().hasPrefix("Pab"))
        #expect(await simulator.isCellOn)
        try await host.ask(["Z"])
        var tail: [String] = []
        while tail.last != "" { tail.append(try await host.read()) }
        #expect(tail.filter { !$0.hasPrefix("P") } == ["Z", "*", ""])
        #expect(await !simulator.isCellOn)
        try await host.ask(["Z"])
        #expect(try await host.read() == "Z!0006")
        await host.finish()
    }

    @Test func overloadFaultStopsTheScriptWithoutRunningOnFinished() async throws {
        let simulator = MethodScriptSimulator(cell: ohmic, faults: .init(overloadAfterPackages: 1))
        let host = try RawHost(simulator)
        try await host.ask([
            "e", "var p", "var i", "cell_on", "meas_loop_cp p i 1m 1 10", "pck_start", "pck_add p", "pck_end",
            "endloop", "on_finished:", "cell_off", "",
        ])
        #expect(try await host.read() == "e")
        #expect(try await host.read() == "M000A")
        #expect(try await host.read().hasPrefix("Pab"))
        #expect(try await host.read() == "!0032: Line 7")
        #expect(await simulator.isCellOn, "a runtime error skips on_finished, so the cell stays on")
        await host.finish()
    }
}
