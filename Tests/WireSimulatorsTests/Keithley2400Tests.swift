import Domain
import InstrumentDrivers
import Instruments
import SerialTransport
import Testing
import Transport
import WireSimulators

private func openHost(_ port: SimulatedPort) throws -> LineChannel {
    let transport = try SerialPortTransport(line: SerialLineConfiguration(port: port.path, baudRate: 9600))
    return LineChannel(transport: transport, framing: Keithley2400Galvanostat.framing, outgoingTerminator: "\r")
}

/// The Keithley driver on the simulator's pseudo-terminal, with the rig file's defaults but a 30 s reply timeout (a
/// simulator on a loaded machine can take seconds to answer), adjusted by `adjust`.
func keithley(
    on port: SimulatedPort, adjust: (inout Keithley2400Configuration) -> Void = { _ in }
) throws -> Keithley2400Galvanostat {
    var configuration = Keithley2400Configuration(
        line: SerialLineConfiguration(port: port.path, baudRate: Keithley2400Galvanostat.defaultBaudRate),
        replyTimeout_s: 30)
    adjust(&configuration)
    return Keithley2400Galvanostat(
        transport: try SerialPortTransport(line: configuration.line), configuration: configuration)
}

@Suite struct Keithley2400SimulatorTests {
    @Test func acceptsShortAndLongFormsAndQueuesErrors() async throws {
        let simulator = Keithley2400Simulator(cell: OhmicCell(resistance_Ohm: 100))
        let port = try SimulatedPort.start(simulator)
        let host = try openHost(port)
        try await host.send(line: "*idn?")
        #expect(try await host.readLine(timeout: .seconds(30)).hasPrefix("KEITHLEY INSTRUMENTS INC.,MODEL 2400,"))
        try await host.send(line: "source:current:level 0.5;:SOUR:CURR:LEV?")
        #expect(try await host.readLine(timeout: .seconds(30)) == "+5.000000E-01")
        try await host.send(line: ":SOUR:CURR:LEV 2;:BOGUS 1;:SYST:ERR?;:SYST:ERR?;:SYST:ERR?")
        #expect(try await host.readLine(timeout: .seconds(30)) == "-222,\"Parameter data out of range\"")
        #expect(try await host.readLine(timeout: .seconds(30)) == "-113,\"Undefined header\"")
        #expect(try await host.readLine(timeout: .seconds(30)) == "0,\"No error\"")
        await host.close()
        await port.stop()
    }

    @Test func readReturnsEnabledElementsInFixedOrderWithComplianceStatus() async throws {
        let port = try SimulatedPort.start(Keithley2400Simulator(cell: OhmicCell(resistance_Ohm: 1000)))
        let host = try openHost(port)
        try await host.send(line: ":SOUR:FUNC CURR;:SENS:VOLT:PROT 1;:FORM:ELEM STAT,VOLT;:TRIG:DEL 0.98")
        try await host.send(line: ":SOUR:CURR:LEV 5E-4;:OUTP ON;:READ?")
        #expect(try await host.readLine(timeout: .seconds(30)) == "+5.000000E-01,+3.481600E+04")
        try await host.send(line: ":SOUR:CURR:LEV 2E-3;:READ?")
        #expect(try await host.readLine(timeout: .seconds(30)) == "+1.000000E+00,+3.482400E+04")
        try await host.send(line: ":OUTP OFF;:READ?;:SYST:ERR?")
        #expect(try await host.readLine(timeout: .seconds(30)) == "803,\"Output disabled\"")
        await host.close()
        await port.stop()
    }
}

@Suite struct Keithley2400IntegrationTests {
    @Test func driverRunsAStepAgainstTheSimulator() async throws {
        let simulator = Keithley2400Simulator(cell: OhmicCell(resistance_Ohm: 400, openCircuitVoltage_V: 0.05))
        let port = try SimulatedPort.start(simulator)
        let smu = try keithley(on: port)
        #expect(try await smu.identify().model == "Keithley 2400")
        try await smu.configure(samplingInterval_s: 1, limits: HardwareLimits(voltage_V: 2, current_A: 10e-3))
        #expect(await simulator.outputOffMode == "HIMP")
        try await smu.applyCurrent(-250e-6)
        let first = try await smu.nextSample()
        let second = try await smu.nextSample()
        #expect(abs(first.voltage_V - (0.05 - 0.1)) < 1e-9)
        #expect(abs(first.current_A - -250e-6) < 1e-12)
        #expect(abs((second.time_s - first.time_s) - 1.02) < 1e-9, "trigger delay plus 1 PLC of integration")
        try await smu.applyCurrent(6e-3)
        let atCompliance = try await smu.nextSample()
        #expect(atCompliance.voltage_V == 2 && atCompliance.flags == [.overload], "kept, flagged")
        #expect(await !simulator.isOutputOn, "switched off as soon as the reading showed compliance")
        await #expect(throws: InstrumentError.self) { try await smu.nextSample() }
        await smu.close()
        await port.stop()
    }
}

@Suite struct Keithley2400InterlockTests {
    private func start(
        _ simulator: Keithley2400Simulator, interlock: Keithley2400Configuration.OutputInterlock,
        replyTimeout_s: Double = 30
    ) throws -> (SimulatedPort, Keithley2400Galvanostat) {
        let port = try SimulatedPort.start(simulator)
        let smu = try keithley(on: port) {
            $0.outputInterlock = interlock
            $0.replyTimeout_s = replyTimeout_s
        }
        return (port, smu)
    }

    @Test func aHostThatFallsSilentMidStepHasItsOutputSwitchedOffByTheWatchdog() async throws {
        // Wall time, both: the hold time is longer than a loaded machine keeps the reading host from running
        // between two readings, and the reply timeout (which the reading after the trip waits out) longer still: the
        // simulator answers from the test process's cooperative pool, which synchronous tests elsewhere in the suite
        // can hold for tens of seconds.
        let holdTime = Duration.seconds(8)
        let simulator = Keithley2400Simulator(
            cell: OhmicCell(resistance_Ohm: 400), interlockLine: .watchdog(holdTime: holdTime))
        let (port, smu) = try start(simulator, interlock: .watchdog(holdTime_s: 8), replyTimeout_s: 30)
        try await smu.configure(samplingInterval_s: 0.1, limits: HardwareLimits(voltage_V: 2, current_A: 10e-3))
        #expect(await simulator.isInterlockEnabled)
        try await smu.applyCurrent(1e-3)
        var times: [Double] = []
        for _ in 0..<5 { times.append(try await smu.nextSample().time_s) }
        #expect(await simulator.isOutputOn)
        #expect(await simulator.interlockTrips.isEmpty, "a host that keeps reading keeps the watchdog held")

        // The host goes silent mid-step; only the instrument side acts now. Bounded wait for it to act.
        let deadline = ContinuousClock.now + .seconds(60)
        while await simulator.isOutputOn, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(await !simulator.isOutputOn)
        #expect(await simulator.outputOffMode == "HIMP")
        let trips = await simulator.interlockTrips
        #expect(trips.count == 1)
        #expect(trips.first.map { $0.hostSilence >= holdTime } == true, "not before the hold time")
        #expect(trips.first?.readingsBefore == 5)
        #expect(await simulator.sentSampleCount == times.count, "every reading sent reached the host")
        #expect(times == times.sorted() && Set(times).count == times.count)

        // Back again: the output stayed off, which the next reading reports; after open circuit (which the engine
        // applies on any fault) a new step may switch it on again.
        do {
            _ = try await smu.nextSample()
            Issue.record("expected no reading from an output the interlock switched off")
        } catch let error as InstrumentError {
            #expect(error.code == .timeout)
            #expect(error.message.contains("interlock"))
        }
        try await smu.openCircuit()
        try await smu.applyCurrent(1e-3)
        #expect(await simulator.isOutputOn)
        let later = try await smu.nextSample().time_s
        #expect(later > times.last!)
        try await smu.openCircuit()
        await smu.close()
        await port.stop()
    }

    @Test func aReleasedLineKeepsTheOutputOffAndTheDriverSaysWhy() async throws {
        let simulator = Keithley2400Simulator(cell: OhmicCell(resistance_Ohm: 400), interlockLine: .released)
        let (port, smu) = try start(simulator, interlock: .line)
        try await smu.configure(samplingInterval_s: 1, limits: HardwareLimits(voltage_V: 2, current_A: 10e-3))
        do {
            try await smu.applyCurrent(1e-3)
            Issue.record("expected the released interlock to refuse the output")
        } catch let error as InstrumentError {
            #expect(error.code == .rejected)
            #expect(error.message.contains("pin 8"))
        }
        #expect(await !simulator.isOutputOn)
        await simulator.setInterlockLine(.held)
        try await smu.applyCurrent(1e-3)
        #expect(await simulator.isOutputOn)
        await simulator.setInterlockLine(.released)
        #expect(await !simulator.isOutputOn, "releasing the line switches the output off at once")
        await smu.close()
        await port.stop()
    }

    @Test func firmwareThatCallsItOutputEnableAnswersOnlyToThatName() async throws {
        let device = Keithley2400Simulator.Device(
            identification: Keithley2400Simulator.Device.model2400.identification, interlockKeyword: "ENAB")
        let port = try SimulatedPort.start(
            Keithley2400Simulator(cell: OhmicCell(resistance_Ohm: 100), device: device, interlockLine: .released))
        let host = try openHost(port)
        try await host.send(line: ":OUTP:INT:STAT ON;:SYST:ERR?;:outp:enab:stat on;:OUTP:ENAB?;:OUTP:ENAB:TRIP?")
        #expect(try await host.readLine(timeout: .seconds(30)) == "-113,\"Undefined header\"")
        #expect(try await host.readLine(timeout: .seconds(30)) == "1")
        #expect(try await host.readLine(timeout: .seconds(30)) == "0")
        try await host.send(line: ":OUTP ON;:OUTP?;:SYST:ERR?")
        #expect(try await host.readLine(timeout: .seconds(30)) == "0")
        #expect(try await host.readLine(timeout: .seconds(30)) == "-221,\"Settings conflict\"")
        await host.close()
        await port.stop()
    }
}
