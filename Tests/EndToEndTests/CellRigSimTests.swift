import Control
import Domain
import Foundation
import InstrumentDrivers
import Instruments
import SerialTransport
import TestSupport
import Testing
import Transport

#if canImport(Glibc)
    import Glibc
#endif

@Suite("cellrig-sim, run as built")
struct CellRigSimTests {
    private static let linkNames = ["methodscript", "keithley2400", "mark10", "modbus", "temperature"]

    private func line(_ path: String, baudRate: Int) -> SerialLineConfiguration {
        SerialLineConfiguration(port: path, baudRate: baudRate)
    }

    private func open(_ path: String, baudRate: Int) throws -> SerialPortTransport {
        try SerialPortTransport(line: line(path, baudRate: baudRate))
    }

    @Test("serves every instrument on its linked pseudo-terminal, exits on SIGTERM and removes its links")
    func servesRealDriversAndStopsCleanly() async throws {
        let executable = TestSupport.productsDirectory.appendingPathComponent("cellrig-sim")
        try #require(FileManager.default.isExecutableFile(atPath: executable.path), "build cellrig-sim first")
        let directory = try TestSupport.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let linkDirectory = directory.appendingPathComponent("links").path
        let simulator = Process()
        simulator.executableURL = executable
        simulator.arguments = [
            "--link-dir", linkDirectory, "--speed", "max", "--pellet-area-cm2", "0.5", "--modbus-byte-order", "DCBA",
            "--mark10-numeric-only",
        ]
        let output = Pipe()
        simulator.standardOutput = output
        try simulator.run()
        defer { if simulator.isRunning { kill(simulator.processIdentifier, SIGKILL) } }

        let links = Self.linkNames.map { (linkDirectory as NSString).appendingPathComponent($0) }
        let linked = try await TestSupport.eventually(attempts: 2400) {
            links.allSatisfy { (try? FileManager.default.destinationOfSymbolicLink(atPath: $0)) != nil }
        }
        try #require(linked, "cellrig-sim made no links in \(linkDirectory)")
        for link in links {
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link).hasPrefix("/dev/pts/"))
        }

        // MethodSCRIPT: identify, then one sample of a small step.
        let methodScript = MethodScriptGalvanostat(
            transport: try open(links[0], baudRate: MethodScriptGalvanostat.defaultBaudRate),
            configuration: MethodScriptConfiguration(
                line: line(links[0], baudRate: MethodScriptGalvanostat.defaultBaudRate), replyTimeout_s: 30))
        #expect(try await methodScript.identify().model.contains("EmStat4"))
        let limits = HardwareLimits(voltage_V: 5, current_A: 10e-3)
        try await methodScript.configure(samplingInterval_s: 1, limits: limits)
        try await methodScript.applyCurrent(10e-6)
        let methodScriptSample = try await methodScript.nextSample()
        #expect(abs(methodScriptSample.current_A - 10e-6) < 0.05 * 10e-6)
        #expect(methodScriptSample.voltage_V.isFinite && abs(methodScriptSample.voltage_V) < 5)
        try await methodScript.openCircuit()
        await methodScript.close()

        // Keithley 2400: *IDN?, then one reading of a small step.
        let keithley = Keithley2400Galvanostat(
            transport: try open(links[1], baudRate: Keithley2400Galvanostat.defaultBaudRate),
            configuration: Keithley2400Configuration(
                line: line(links[1], baudRate: Keithley2400Galvanostat.defaultBaudRate), replyTimeout_s: 30))
        let identity = try await keithley.identify()
        #expect(identity.model == "Keithley 2400")
        #expect(!identity.serialNumber.isEmpty)
        try await keithley.configure(samplingInterval_s: 1, limits: limits)
        try await keithley.applyCurrent(10e-6)
        let keithleySample = try await keithley.nextSample()
        #expect(abs(keithleySample.current_A - 10e-6) < 0.05 * 10e-6)
        #expect(keithleySample.voltage_V.isFinite && abs(keithleySample.voltage_V) < 5)
        try await keithley.openCircuit()
        await keithley.close()

        // The two force instruments read the same clamp force.
        let gauge = Mark10ForceGauge(
            transport: try open(links[2], baudRate: 115_200),
            configuration: Mark10Configuration(line: line(links[2], baudRate: 115_200), replyTimeout_s: 30))
        #expect(try await gauge.identify().model.hasPrefix("Mark-10 "))
        let gaugeForce = try await gauge.readForce_N()
        await gauge.close()
        let loadCell = ModbusLoadCell(
            transport: try open(links[3], baudRate: ModbusLoadCell.defaultBaudRate),
            configuration: ModbusLoadCellConfiguration(
                line: line(links[3], baudRate: ModbusLoadCell.defaultBaudRate), model: "simulated", register: 0,
                valueType: .int32, byteOrder: .dcba, newtonsPerCount: 0.01, replyTimeout_s: 30))
        let loadCellForce = try await loadCell.readForce_N()
        await loadCell.close()
        #expect(gaugeForce > 0 && loadCellForce > 0)
        #expect(abs(gaugeForce - loadCellForce) < 0.01 * loadCellForce, "\(gaugeForce) N vs \(loadCellForce) N")
        var oven = TemperatureControllerConfiguration(
            preset: .eurotherm3200, line: line(links[4], baudRate: 9600))
        oven.replyTimeout_s = 5
        let controller = ModbusTemperatureController(
            transport: try open(links[4], baudRate: 9600), configuration: oven)
        #expect(try await controller.readTemperature_C() == 22, "the clamp powers on at the default ambient")
        await controller.close()

        kill(simulator.processIdentifier, SIGTERM)
        let exited = try await TestSupport.eventually(attempts: 2400) { !simulator.isRunning }
        try #require(exited, "cellrig-sim did not exit within 20 s of SIGTERM")
        #expect(simulator.terminationReason == .exit)
        #expect(simulator.terminationStatus == 0)
        for link in links { #expect(!FileManager.default.fileExists(atPath: link), "\(link) left behind") }

        // What it printed: each port next to its link, and the clamp force the force instruments read.
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        for link in links { #expect(printed.contains("<- \(link)")) }
        let clampForce = printed.split(separator: "\n").first { $0.contains("clamp force") }
            .flatMap { line in line.split(separator: " ").firstIndex(of: "N").map { line.split(separator: " ")[$0 - 1] }
            }
            .flatMap { Double($0) }
        let expectedForce = try #require(clampForce, "no clamp force in \(printed)")
        #expect(abs(gaugeForce - expectedForce) < 0.01 * expectedForce)
        #expect(printed.contains("stopping"))
    }

    @Test("a daemon killed mid-step: the watchdog on the Keithley's interlock switches the output off by itself")
    func killedDaemonLeavesTheKeithleyOutputOff() async throws {
        let directory = try TestSupport.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let linkDirectory = directory.appendingPathComponent("links").path
        let simulatorOutput = directory.appendingPathComponent("cellrig-sim.out")
        try #require(FileManager.default.createFile(atPath: simulatorOutput.path, contents: nil))
        let simulator = Process()
        simulator.executableURL = TestSupport.productsDirectory.appendingPathComponent("cellrig-sim")
        simulator.arguments = ["--link-dir", linkDirectory, "--speed", "10", "--keithley-watchdog", "30"]
        simulator.standardOutput = try FileHandle(forWritingTo: simulatorOutput)
        try simulator.run()
        defer { if simulator.isRunning { kill(simulator.processIdentifier, SIGKILL) } }
        let keithleyLink = (linkDirectory as NSString).appendingPathComponent("keithley2400")
        let linked = try await TestSupport.eventually(attempts: 2400) {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: keithleyLink)) != nil
        }
        try #require(linked)

        let rigs = directory.appendingPathComponent("rigs")
        try FileManager.default.createDirectory(at: rigs, withIntermediateDirectories: true)
        try """
        schema: 1
        id: k
        cell: {metal: K, electrolyte: K-beta''-alumina, electrode_area: 0.196 cm2, metal_thickness: 500 um}
        limits: {voltage: 5 V, current: 20 mA}
        galvanostat: {driver: keithley2400, port: \(keithleyLink), output_interlock: 30 s, reply_timeout: 30 s}
        """.write(to: rigs.appendingPathComponent("k.yaml"), atomically: true, encoding: .utf8)
        let daemon = Process()
        daemon.executableURL = TestSupport.productsDirectory.appendingPathComponent("cellrigd")
        daemon.arguments = ["--state-dir", directory.path, "--rigs", rigs.path, "--log-level", "warning"]
        try daemon.run()
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        let environment = ["CELLRIG_SOCKET": directory.appendingPathComponent("cellrig.sock").path]
        let up = try await TestSupport.eventually {
            try await TestSupport.onThread { try TestSupport.runProduct("cellrig", ["rigs"], environment: environment) }
                .status == 0
        }
        try #require(up)
        let start = try await TestSupport.onThread {
            try TestSupport.runProduct(
                "cellrig", ["start", "protocols/ccd-step-symmetric.yaml", "--rig", "k", "--cell", "c1", "--json"],
                environment: environment)
        }
        try #require(start.status == 0, "\(start.standardError)")
        let runID = try JSONDecoder().decode(RunStatus.self, from: Data(start.standardOutput.utf8)).id
        let sampling = try await TestSupport.eventually {
            let status = try await TestSupport.onThread {
                try TestSupport.runProduct("cellrig", ["status", "\(runID)", "--json"], environment: environment)
            }
            return (try? JSONDecoder().decode(RunStatus.self, from: Data(status.standardOutput.utf8)))?.samples ?? 0 > 5
        }
        try #require(sampling)
        let printed = { String(decoding: (try? Data(contentsOf: simulatorOutput)) ?? Data(), as: UTF8.self) }
        #expect(!printed().contains("interlock released"), "a host that keeps reading keeps the watchdog held")

        // The host dies without a word: no open circuit, no closing of the port by the daemon.
        kill(daemon.processIdentifier, SIGKILL)
        try await TestSupport.onThread { daemon.waitUntilExit() }
        let switchedOff = try await TestSupport.eventually(attempts: 2400) { printed().contains("interlock released") }
        #expect(switchedOff, "the simulated Keithley kept its output on: \(printed())")

        kill(simulator.processIdentifier, SIGTERM)
        let exited = try await TestSupport.eventually(attempts: 2400) { !simulator.isRunning }
        try #require(exited)
        #expect(simulator.terminationStatus == 0)
    }
}
