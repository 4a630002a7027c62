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
        let transport = try SerialPortTransport(
            path: port.path, settings: SerialSettings(baudRate: 921_600), backend: .termios)
        channel = LineChannel(transport: transport, framing: LineFramer.Configuration(terminator: .lf))
    }

    func ask(_ lines: [String]) async throws {
        for line in lines { try await channel.send(line: line) }
    }

    func read() async throws -> String { try await channel.readLine(timeout: .seconds(10)) }

    func finish() async {
        await channel.close()
        await port.stop()
    }
}

private let ohmic = OhmicCell(resistance_Ohm: 400, openCircuitVoltage_V: 0.05)

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
        try await host.ask(["q"])
        #expect(try await host.read() == "q!0003")
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
