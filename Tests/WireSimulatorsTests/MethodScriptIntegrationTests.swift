import Domain
import InstrumentDrivers
import Instruments
import SerialTransport
import Testing
import Transport
import WireSimulators

private let limits = HardwareLimits(voltage_V: 2, current_A: 10e-3)

private func driver(on port: SimulatedPort) throws -> MethodScriptGalvanostat {
    let configuration = MethodScriptConfiguration(
        line: SerialLineConfiguration(port: port.path, baudRate: MethodScriptGalvanostat.defaultBaudRate),
        replyTimeout_s: 30)
    return MethodScriptGalvanostat(
        transport: try SerialPortTransport(line: configuration.line), configuration: configuration)
}

@Suite struct MethodScriptIntegrationTests {
    @Test func driverRunsStepsAgainstTheSimulatorOverAPseudoTerminal() async throws {
        let port = try SimulatedPort.start(
            MethodScriptSimulator(cell: OhmicCell(resistance_Ohm: 400, openCircuitVoltage_V: 0.05)))
        let galvanostat = try driver(on: port)
        let identity = try await galvanostat.identify()
        #expect(identity.model == "PalmSens EmStat4 HR")
        #expect(identity.serialNumber == "ES4HR-SIM-0001")
        #expect(identity.port == port.path)

        try await galvanostat.configure(samplingInterval_s: 0.5, limits: limits)
        try await galvanostat.applyCurrent(-250e-6)
        var plating: [InstrumentSample] = []
        for _ in 0..<3 { plating.append(try await galvanostat.nextSample()) }
        #expect(plating.map(\.time_s) == [0.5, 1.0, 1.5])
        for sample in plating {
            #expect(abs(sample.current_A - -250e-6) < 1e-12)
            #expect(abs(sample.voltage_V - (0.05 - 0.1)) < 1e-9)
        }

        try await galvanostat.openCircuit()
        // Packages the instrument sent while the driver aborted the plating script come first, as plating samples.
        let tail = await galvanostat.takePendingSamples()
        #expect(tail.allSatisfy { abs($0.current_A - -250e-6) < 1e-12 && abs($0.voltage_V - (0.05 - 0.1)) < 1e-9 })
        let resting = try await galvanostat.nextSample()
        #expect(resting.current_A == 0)
        #expect(abs(resting.voltage_V - 0.05) < 1e-9)
        #expect(resting.time_s > (tail.last ?? plating[2]).time_s)

        try await galvanostat.applyCurrent(1e-3)
        let restingTail = await galvanostat.takePendingSamples()
        #expect(restingTail.allSatisfy { $0.current_A == 0 })
        let stripping = try await galvanostat.nextSample()
        #expect(abs(stripping.voltage_V - 0.45) < 1e-9)
        #expect(stripping.time_s > (restingTail.last ?? resting).time_s)
        try await galvanostat.finishRun()
        #expect(await galvanostat.takePendingSamples().allSatisfy { abs($0.voltage_V - 0.45) < 1e-9 })
        await galvanostat.close()
        await port.stop()
    }

    @Test func everyPackageTheInstrumentSentIsASampleAcrossStepChangesAndTheEndOfTheRun() async throws {
        let simulator = MethodScriptSimulator(cell: OhmicCell(resistance_Ohm: 400))
        let port = try SimulatedPort.start(simulator)
        let galvanostat = try driver(on: port)
        try await galvanostat.configure(samplingInterval_s: 1, limits: limits)
        var samples: [InstrumentSample] = []
        for current_A in [1e-3, -1e-3, 0, 5e-4] {
            if current_A == 0 {
                try await galvanostat.openCircuit()
            } else {
                try await galvanostat.applyCurrent(current_A)
            }
            for _ in 0..<20 { samples.append(try await galvanostat.nextSample()) }
        }
        try await galvanostat.finishRun()
        samples += await galvanostat.takePendingSamples()
        #expect(samples.count == (await simulator.sentSampleCount))
        #expect(await galvanostat.discardedReadingCount == 0)
        #expect(zip(samples, samples.dropFirst()).allSatisfy { $0.time_s < $1.time_s }, "one continuous clock")
        #expect(await !simulator.isCellOn)
        await galvanostat.close()
        await port.stop()
    }

    @Test func voltageWindowIsEnforcedByTheInstrument() async throws {
        let simulator = MethodScriptSimulator(cell: OhmicCell(resistance_Ohm: 400))
        let port = try SimulatedPort.start(simulator)
        let galvanostat = try driver(on: port)
        try await galvanostat.configure(samplingInterval_s: 1, limits: limits)
        try await galvanostat.applyCurrent(6e-3)  // 2.4 V across 400 Ohm: outside the +/-2 V window
        _ = try await galvanostat.nextSample()
        do {
            _ = try await galvanostat.nextSample()
            Issue.record("expected the window to end the step")
        } catch let error as InstrumentError {
            #expect(error.code == .rejected)
        }
        #expect(await !simulator.isCellOn)
        await galvanostat.close()
        await port.stop()
    }

    @Test func overloadFaultLeavesTheCellOffAfterTheDriverReacts() async throws {
        let simulator = MethodScriptSimulator(
            cell: OhmicCell(resistance_Ohm: 10), faults: .init(overloadAfterPackages: 2))
        let port = try SimulatedPort.start(simulator)
        let galvanostat = try driver(on: port)
        try await galvanostat.configure(samplingInterval_s: 1, limits: limits)
        try await galvanostat.applyCurrent(1e-3)
        _ = try await galvanostat.nextSample()
        _ = try await galvanostat.nextSample()
        await #expect(throws: InstrumentError.self) { try await galvanostat.nextSample() }
        #expect(await !simulator.isCellOn)
        await galvanostat.close()
        await port.stop()
    }

    @Test func unpluggedInstrumentIsReportedAsDisconnected() async throws {
        let port = try SimulatedPort.start(
            MethodScriptSimulator(cell: OhmicCell(resistance_Ohm: 10), faults: .init(hangUpAfterPackages: 1)))
        let galvanostat = try driver(on: port)
        try await galvanostat.configure(samplingInterval_s: 1, limits: limits)
        // A hang-up discards unread bytes, so the failure may surface while starting the step or while reading.
        do {
            try await galvanostat.applyCurrent(1e-3)
            while true { _ = try await galvanostat.nextSample() }
        } catch let error as InstrumentError {
            #expect(error.code == .disconnected)
        }
        await galvanostat.close()
        await port.stop()
    }

    @Test func driverFiltersTheStrayXONAnEmStatPicoSendsOnConnect() async throws {
        let port = try SimulatedPort.start(
            MethodScriptSimulator(cell: OhmicCell(resistance_Ohm: 10), faults: .init(strayXONOnStart: true)))
        let galvanostat = try driver(on: port)
        #expect(try await galvanostat.identify().firmware.hasPrefix("1100"))
        await galvanostat.close()
        await port.stop()
    }
}

@Suite struct MethodScriptConcurrencyTests {
    @Test func openCircuitDuringAPendingSampleWaitsItsTurnInsteadOfStealingReplies() async throws {
        let port = try SimulatedPort.start(
            MethodScriptSimulator(cell: OhmicCell(resistance_Ohm: 100), speed: .factor(1)))
        let galvanostat = try driver(on: port)
        try await galvanostat.configure(samplingInterval_s: 0.2, limits: limits)
        try await galvanostat.applyCurrent(1e-3)
        let pending = Task { try await galvanostat.nextSample() }
        try await Task.sleep(for: .milliseconds(20))
        try await galvanostat.openCircuit()
        let during = try await pending.value
        #expect(abs(during.voltage_V - 0.1) < 1e-9)
        // A package in flight during the abort is a constant-current sample, handed over before the resting ones.
        #expect(await galvanostat.takePendingSamples().allSatisfy { abs($0.voltage_V - 0.1) < 1e-9 })
        let after = try await galvanostat.nextSample()
        #expect(after.current_A == 0)
        #expect(abs(after.voltage_V) < 1e-9)
        await galvanostat.close()
        await port.stop()
    }
}

@Suite struct MethodScriptInProcessTests {
    @Test func driverRunsAgainstTheSimulatorWithoutAPseudoTerminal() async throws {
        let instrument = await InProcessInstrument.start(
            MethodScriptSimulator(cell: OhmicCell(resistance_Ohm: 200, openCircuitVoltage_V: 0.01)))
        let galvanostat = MethodScriptGalvanostat(
            transport: instrument.transport,
            configuration: MethodScriptConfiguration(
                line: SerialLineConfiguration(port: "in-process", baudRate: 921_600), replyTimeout_s: 30))
        #expect(try await galvanostat.identify().port == "in-process")
        try await galvanostat.configure(samplingInterval_s: 10, limits: limits)
        try await galvanostat.applyCurrent(1e-4)
        let sample = try await galvanostat.nextSample()
        #expect(sample.time_s == 10)
        #expect(abs(sample.voltage_V - 0.03) < 1e-9)
        try await galvanostat.openCircuit()
        #expect(await galvanostat.takePendingSamples().allSatisfy { abs($0.voltage_V - 0.03) < 1e-9 })
        await instrument.stop()
        await #expect(throws: InstrumentError.self) { try await galvanostat.nextSample() }
    }

    @Test func haltStopsTheMeasurementUntilResumed() async throws {
        let instrument = await InProcessInstrument.start(MethodScriptSimulator(cell: OhmicCell(resistance_Ohm: 1)))
        let host = LineChannel(transport: instrument.transport, framing: MethodScriptGalvanostat.framing)
        for line in [
            "e", "var p", "var i", "cell_on", "meas_loop_cp p i 1m 1 100000", "pck_start", "pck_add p", "pck_end",
            "endloop", "on_finished:", "cell_off", "",
        ] {
            try await host.send(line: line)
        }
        #expect(try await host.readLine(timeout: .seconds(30)) == "e")
        #expect(try await host.readLine(timeout: .seconds(30)) == "M000A")
        try await host.send(line: "h")
        while try await host.readLine(timeout: .seconds(30)) != "h" {}
        var packagesWhileHalted = 0
        do {
            while packagesWhileHalted < 50 {
                _ = try await host.readLine(timeout: .milliseconds(100))
                packagesWhileHalted += 1
            }
        } catch is TransportError {}
        #expect(packagesWhileHalted < 3, "at most the packages already on their way")
        try await host.send(line: "H")
        #expect(try await host.readLine(timeout: .seconds(30)) == "H")
        #expect(try await host.readLine(timeout: .seconds(30)).hasPrefix("Pab"))
        await instrument.stop()
    }
}

@Suite struct GeneratedScriptAcceptanceTests {
    /// Every script the driver can generate must pass the instrument's syntax check (no decimal points, declared
    /// variables, balanced blocks); the simulator answers `e` only for a valid script.
    @Test(arguments: [
        (1e-9, 0.1, 5.0), (-2.5e-4, 1.0, 2.0), (1.23456e-5, 0.25, 4.3), (-9.99e-3, 10.0, 0.05), (0.0, 3600.0, 1.0),
    ])
    func generatedScriptsAreAccepted(current_A: Double, interval_s: Double, voltageLimit_V: Double) async throws {
        let scripts = [
            MethodScriptScripts.constantCurrent(
                current_A: current_A, interval_s: interval_s, duration_s: 86_400, voltageLimit_V: voltageLimit_V,
                mainsFrequency_Hz: 60),
            MethodScriptScripts.openCircuit(
                interval_s: interval_s, duration_s: 3600, voltageLimit_V: voltageLimit_V, mainsFrequency_Hz: 50),
            MethodScriptScripts.cellOff,
        ]
        for script in scripts {
            #expect(script.allSatisfy { $0.utf8.count < 128 })
            let instrument = await InProcessInstrument.start(MethodScriptSimulator(cell: OhmicCell(resistance_Ohm: 1)))
            let host = LineChannel(transport: instrument.transport, framing: MethodScriptGalvanostat.framing)
            for line in script { try await host.send(line: line) }
            #expect(try await host.readLine(timeout: .seconds(30)) == "e", "\(script)")
            await instrument.stop()
        }
    }
}

@Suite struct MethodScriptReconnectTests {
    @Test func newHostTakesOverAnInstrumentLeftRunningAndSwitchesTheCellOff() async throws {
        let simulator = MethodScriptSimulator(cell: OhmicCell(resistance_Ohm: 100))
        let port = try SimulatedPort.start(simulator)
        let crashed = try driver(on: port)
        try await crashed.configure(samplingInterval_s: 1, limits: limits)
        try await crashed.applyCurrent(1e-3)
        _ = try await crashed.nextSample()
        await crashed.close()  // the host dies without switching the cell off
        #expect(await simulator.isCellOn)

        let successor = try driver(on: port)
        try await successor.configure(samplingInterval_s: 1, limits: limits)
        #expect(await !simulator.isCellOn)
        try await successor.openCircuit()
        #expect(try await successor.nextSample().current_A == 0)
        await successor.close()
        await port.stop()
    }
}
