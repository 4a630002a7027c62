import Control
import Domain
import Foundation
import Simulation
import Storage
import TestSupport
import Testing
import Transport
import WireSimulators

@testable import Daemon

/// The force instrument of a test rig, in the state its simulator starts in.
private enum ForceInstrument {
    /// A Mark-10 that powers on in `unit`, with or without units in its readings.
    case mark10(unit: String, unitsInReadings: Bool)
    /// A Modbus transmitter sending int32 centinewtons in `order`.
    case modbus(ModbusLoadCellConfiguration.ByteOrder)
}

/// A Keithley 2400 rig and its simulators on pseudo-terminals.
private struct KeithleyRig {
    let keithley: Keithley2400Simulator
    let ports: [SimulatedPort]
    let description: RigDescription

    func stop() async {
        for port in ports { await port.stop() }
    }
}

/// A Keithley rig `id` whose TIME reads `clockAtStart_s` when the daemon connects, with `force` as its pressure
/// sensor (none when nil), in the rig file's defaults otherwise (open_circuit: zero-current).
private func keithleyRig(
    id: String, clockAtStart_s: Double = Keithley2400Simulator.defaultClockAtStart_s, force: ForceInstrument? = nil,
    speed: SimulationSpeed = .unlimited, faultyLink: FaultyLink.Fault? = nil, replyTimeout: String = "30 s"
) throws -> KeithleyRig {
    let keithley = Keithley2400Simulator(cell: testCell(seed: 3), speed: speed, clockAtStart_s: clockAtStart_s)
    let galvanostatPort =
        try faultyLink.map { try SimulatedPort.start(FaultyLink(keithley, fault: $0, afterReadings: 10)) }
        ?? SimulatedPort.start(keithley)
    var ports = [galvanostatPort]
    var text = """
        schema: 1
        id: \(id)
        cell:
          metal: K
          electrolyte: K-beta''-alumina
          electrode_area: 0.196 cm2
          metal_thickness: 500 um
          stack_pressure: 2.5 MPa
          temperature: 20 C
        limits: {voltage: 5 V, current: 20 mA}
        galvanostat: {driver: keithley2400, port: \(galvanostatPort.path), reply_timeout: \(replyTimeout)}

        """
    switch force {
    case nil: break
    case .mark10(let unit, let unitsInReadings):
        let gauge = try SimulatedPort.start(
            Mark10Simulator(device: .init(unitsInReadings: unitsInReadings, powerOnUnit: unit)) { clampForce_N })
        ports.append(gauge)
        text += """
            pressure_sensor:
              driver: mark10
              port: \(gauge.path)
              reply_timeout: 30 s
              pellet_area: 0.785 cm2
              reading_interval: 30 s

            """
    case .modbus(let order):
        let loadCell = try SimulatedPort.start(
            ModbusLoadCellSimulator(
                layout: .init(
                    stationAddress: 1, register: 0, valueType: .int32, byteOrder: order, newtonsPerCount: 0.01)
            ) { clampForce_N })
        ports.append(loadCell)
        text += """
            pressure_sensor:
              driver: modbus
              port: \(loadCell.path)
              parity: none
              reply_timeout: 30 s
              register: 0
              value_type: int32
              byte_order: \(order.rawValue)
              newtons_per_count: 0.01
              pellet_area: 0.785 cm2
              reading_interval: 30 s

            """
    }
    return KeithleyRig(
        keithley: keithley, ports: ports, description: try DaemonConfiguration.loadRig(text: text, file: "\(id).yaml"))
}

/// What a run stored: its steps (kind, start, end, why) and every sample's time, pressure and flags.
private struct RunRecord: Equatable {
    var steps: [String]
    var samples: [String]
    var pressures_MPa: [Double?]
    var flags: Set<SampleFlags>
    var firstSampleTime_s: Double?
    var firstStepDuration_s: Double?

    /// Whether every sample carries 196.25 N on 0.785 cm2, 2.5 MPa, and no flag.
    var holdsTheClampPressure: Bool {
        pressures_MPa.allSatisfy { abs(($0 ?? 0) - 2.5) < 1e-9 } && flags == [[]]
    }
}

/// Runs the shortened seed CCD on `rig` in a daemon of its own and returns what it stored.
private func runShortenedCCD(on rig: KeithleyRig) async throws -> (final: RunStatus, stored: RunRecord) {
    let running = try await RunningDaemon.start(rigs: [rig.description])
    let id = rig.description.id
    let started = try await running.startRun(
        text: try shortened("protocols/ccd-step-symmetric.yaml"), file: "ccd-short.yaml", rig: id)
    let final = try await running.waitForEnd(started.id)
    let store = try running.store
    let steps = try store.steps(runID: started.id)
    var stored = RunRecord(
        steps: steps.map {
            "\($0.kind) \($0.startTime_s)-\($0.endTime_s.map { "\($0)" } ?? "open") \($0.endReason ?? "")"
        },
        samples: [], pressures_MPa: [], flags: [],
        firstStepDuration_s: steps.first.flatMap { step in step.endTime_s.map { $0 - step.startTime_s } })
    try store.forEachSample(runID: started.id) { recorded in
        let sample = recorded.sample
        if stored.firstSampleTime_s == nil { stored.firstSampleTime_s = sample.time_s }
        stored.samples.append("\(sample.time_s) \(sample.pressure_MPa.map { "\($0)" } ?? "none") \(sample.flags.names)")
        stored.pressures_MPa.append(sample.pressure_MPa)
        stored.flags.insert(sample.flags)
    }
    await running.stop()
    await rig.stop()
    return (final, stored)
}

/// A protocol that completes in seconds and ends with a zero-current rest: the output is on when the plan ends.
private let restPlateRest = """
    schema: 1
    name: rest-plate-rest
    sampling_interval: 1 s
    steps:
      - rest:
          duration: 5 s
      - plate:
          current_density: 0.1 mA/cm2
          duration: 10 s
      - rest:
          duration: 5 s

    """

@Suite("Instruments as they are: daemon -> driver -> pseudo-terminal -> simulator in its power-on state", .serialized)
struct InstrumentsAsTheyAreTests {
    /// The shortened CCD on a Keithley whose clock reads 20000 s and a Mark-10 in lbF sending bare numbers.
    @Test("a Keithley on for hours and a Mark-10 in lbF, numeric only: the same steps and pressures as fresh ones")
    func keithleyAndMark10AsTheyAre() async throws {
        let fresh = try await runShortenedCCD(
            on: keithleyRig(id: "fresh", clockAtStart_s: 0, force: .mark10(unit: "N", unitsInReadings: true)))
        let aged = try await runShortenedCCD(
            on: keithleyRig(id: "aged", clockAtStart_s: 20_000, force: .mark10(unit: "LB", unitsInReadings: false)))
        #expect(fresh.final.state == "stopped", "\(fresh.final.reason ?? "")")
        #expect(aged.final.state == "stopped", "\(aged.final.reason ?? "")")
        #expect(aged.final.ccd_mA_cm2 == fresh.final.ccd_mA_cm2)
        #expect(fresh.stored.samples.count > 1000)
        #expect(aged.stored.steps == fresh.stored.steps, "step kinds, start and end times, end reasons")
        #expect(aged.stored.samples == fresh.stored.samples, "every sample's time, pressure and flags")
        // The clock counts from the run, not from the instrument's power-on, and the first 1 h step lasts its hour.
        #expect((aged.stored.firstSampleTime_s ?? 0) < 20)
        #expect(abs((aged.stored.firstStepDuration_s ?? 0) - 3600) <= 10, "\(aged.stored.firstStepDuration_s ?? 0) s")
        #expect(aged.stored.holdsTheClampPressure, "196.25 N on 0.785 cm2 is 2.5 MPa, unflagged")
    }

    @Test("the shortened CCD with a Modbus load cell in BADC: the same step times and pressures as one in ABCD")
    func modbusInBADC() async throws {
        let fresh = try await runShortenedCCD(on: keithleyRig(id: "abcd", clockAtStart_s: 0, force: .modbus(.abcd)))
        let badc = try await runShortenedCCD(on: keithleyRig(id: "badc", clockAtStart_s: 20_000, force: .modbus(.badc)))
        #expect(badc.final.state == "stopped", "\(badc.final.reason ?? "")")
        #expect(badc.stored.steps == fresh.stored.steps)
        #expect(badc.stored.samples == fresh.stored.samples)
        #expect(badc.stored.holdsTheClampPressure, "196.25 N on 0.785 cm2 is 2.5 MPa, unflagged")
    }

    /// A word-swapped int32 decodes to meganewtons, beyond any clamp; a byte-swapped one of a small count may not
    /// (196.25 N sent BADC reads as 433.40 N in ABCD), so it is caught only by a stated capacity (here 250 N).
    @Test(
        "a Modbus cell read in the wrong byte order refuses the run at its start, naming byte_order",
        arguments: [
            (ModbusLoadCellConfiguration.ByteOrder.cdab, nil, "1000000 N"), (.badc, 250, "capacity of 250 N"),
        ] as [(ModbusLoadCellConfiguration.ByteOrder, Double?, String)])
    func byteOrderMismatchIsRefusedAtStart(
        sent: ModbusLoadCellConfiguration.ByteOrder, capacity_N: Double?, bound: String
    ) async throws {
        let rig = try keithleyRig(id: "mismatch", force: .modbus(sent))
        var description = rig.description
        guard case .modbus(var configuration) = description.pressureSensor?.driver else {
            Issue.record("expected a Modbus sensor")
            return
        }
        configuration.byteOrder = .abcd
        description.pressureSensor?.driver = .modbus(configuration)
        description.pressureSensor?.capacity_N = capacity_N
        let running = try await RunningDaemon.start(rigs: [description])
        do {
            _ = try await running.startRun(
                text: try shortened("protocols/ccd-step-symmetric.yaml"), file: "ccd-short.yaml", rig: "mismatch")
            Issue.record("a pressure sensor read in the wrong byte order must refuse the run")
        } catch ControlClientError.daemon(let status, let message) {
            #expect(status == 503)
            #expect(message.contains("byte_order") && message.contains(bound), "\(message)")
        }
        #expect(await !rig.keithley.isOutputOn)
        await running.stop()
        await rig.stop()
    }

    /// Completed, stopped, aborted, faulted and shut down (SIGTERM's path) runs on a default Keithley rig.
    @Test("however a run on a default Keithley rig ends, its output is off, high impedance")
    func keithleyOutputIsOffAfterEveryEnd() async throws {
        // Completed: the plan ends with a zero-current rest, the output on at 0 A until the run's end.
        var rig = try keithleyRig(id: "completed")
        var running = try await RunningDaemon.start(rigs: [rig.description])
        var started = try await running.startRun(text: restPlateRest, file: "rest-plate-rest.yaml", rig: "completed")
        var final = try await running.waitForEnd(started.id)
        #expect(final.state == "completed", "\(final.reason ?? "")")
        #expect(try running.store.sampleCount(runID: started.id) == (await rig.keithley.sentSampleCount))
        #expect(await rig.keithley.sentSampleCount >= 18, "5 s, 10 s and 5 s at one reading per 1.02 s")
        await expectOutputOff(rig.keithley, after: "completed")
        await running.stop()
        await rig.stop()

        // Stopped by a criterion (the cell shorts).
        rig = try keithleyRig(id: "stopped")
        running = try await RunningDaemon.start(rigs: [rig.description])
        started = try await running.startRun(
            text: try shortened("protocols/ccd-step-symmetric.yaml"), file: "ccd-short.yaml", rig: "stopped")
        final = try await running.waitForEnd(started.id)
        #expect(final.state == "stopped", "\(final.reason ?? "")")
        await expectOutputOff(rig.keithley, after: "stopped")
        await running.stop()
        await rig.stop()

        // Aborted by the operator mid-step.
        rig = try keithleyRig(id: "aborted", speed: .factor(100))
        running = try await RunningDaemon.start(rigs: [rig.description])
        started = try await running.startRun(
            text: try shortened("protocols/ccd-step-symmetric.yaml"), file: "ccd-short.yaml", rig: "aborted")
        let sampling = try await TestSupport.eventually { try await running.status(started.id).samples > 3 }
        try #require(sampling)
        #expect(await rig.keithley.isOutputOn, "mid-step")
        let client = running.client
        let runID = started.id
        let aborted = try await TestSupport.onThread {
            try client.request("POST", "/v1/runs/\(runID)/abort", as: RunStatus.self)
        }
        #expect(aborted.state == "aborted")
        await expectOutputOff(rig.keithley, after: "aborted")
        await running.stop()
        await rig.stop()

        // Faulted: the instrument falls silent after 10 readings (its commands still arrive).
        rig = try keithleyRig(id: "faulted", faultyLink: .silence, replyTimeout: "10 s")
        running = try await RunningDaemon.start(rigs: [rig.description])
        started = try await running.startRun(
            text: try shortened("protocols/ccd-step-symmetric.yaml", interval: "1 s"), file: "ccd-short.yaml",
            rig: "faulted")
        final = try await running.waitForEnd(started.id)
        #expect(final.state == "faulted", "\(final.reason ?? "")")
        await expectOutputOff(rig.keithley, after: "faulted")
        await running.stop()
        await rig.stop()

        // Shut down (SIGTERM's path: the service group's graceful shutdown) mid-step.
        rig = try keithleyRig(id: "shutdown", speed: .factor(100))
        running = try await RunningDaemon.start(rigs: [rig.description])
        started = try await running.startRun(
            text: try shortened("protocols/ccd-step-symmetric.yaml"), file: "ccd-short.yaml", rig: "shutdown")
        let shutdownSampling = try await TestSupport.eventually { try await running.status(started.id).samples > 3 }
        try #require(shutdownSampling)
        #expect(await rig.keithley.isOutputOn, "mid-step")
        await running.stop()
        #expect(try running.store.run(id: started.id)?.state == .interrupted)
        await expectOutputOff(rig.keithley, after: "shut down")
        await rig.stop()
    }

    @Test("a spectrum above the identified EmStat4's 200 kHz is refused at run start, before any current flows")
    func impedanceRangeIsCheckedAtRunStart() async throws {
        let simulator = MethodScriptSimulator(cell: testCell())
        let port = try SimulatedPort.start(simulator)
        let rig = try DaemonConfiguration.loadRig(
            text: """
                schema: 1
                id: eis
                cell: {metal: K, electrolyte: K-beta''-alumina, electrode_area: 0.196 cm2}
                limits: {voltage: 5 V, current: 20 mA}
                galvanostat: {driver: methodscript, port: \(port.path), reply_timeout: 30 s}

                """, file: "eis.yaml")
        let running = try await RunningDaemon.start(rigs: [rig])
        let megahertz = """
            schema: 1
            name: geis-1mhz
            sampling_interval: 1 s
            steps:
              - rest:
                  duration: 5 s
              - impedance:
                  control: galvanostatic
                  from: 1 MHz
                  to: 10 Hz
                  points_per_decade: 2
                  amplitude: 10 uA

            """
        do {
            _ = try await running.startRun(text: megahertz, file: "geis-1mhz.yaml", rig: "eis")
            Issue.record("an EmStat4 cannot measure at 1 MHz; the run must be refused")
        } catch ControlClientError.daemon(let status, let message) {
            #expect(status == 400)
            #expect(
                message.contains("geis-1mhz.yaml") && message.contains("1000000 Hz") && message.contains("200000 Hz"),
                "\(message)")
        }
        #expect(await simulator.sentSampleCount == 0)
        #expect(await !simulator.isCellOn)
        await running.stop()
        await port.stop()
    }

    @Test("a MethodSCRIPT !0032 mid-run: the run faults naming 0x0032 and its meaning; the cell-off script is heard")
    func methodScriptOverloadMidRun() async throws {
        let simulator = MethodScriptSimulator(cell: testCell(), faults: .init(overloadAfterPackages: 30))
        let port = try SimulatedPort.start(simulator)
        let rig = try DaemonConfiguration.loadRig(
            text: """
                schema: 1
                id: ms
                cell: {metal: K, electrolyte: K-beta''-alumina, electrode_area: 0.196 cm2, metal_thickness: 500 um}
                limits: {voltage: 5 V, current: 20 mA}
                galvanostat: {driver: methodscript, port: \(port.path), reply_timeout: 30 s}

                """, file: "ms.yaml")
        let running = try await RunningDaemon.start(rigs: [rig])
        let started = try await running.startRun(
            text: try shortened("protocols/ccd-step-symmetric.yaml"), file: "ccd-short.yaml", rig: "ms")
        let final = try await running.waitForEnd(started.id)
        #expect(final.state == "faulted")
        let reason = final.reason ?? ""
        #expect(reason.contains("0x0032 critical cell overload"), "\(reason)")
        #expect(!reason.contains("timeout"), "\(reason)")
        #expect(await !simulator.isCellOn, "the driver's cell-off script switched the cell off")
        // Every package counts: the 30 before the overload, and any the run's end measured at open circuit before
        // it stopped the instrument (a timing matter on a loaded machine).
        let sent = await simulator.sentSampleCount
        #expect(sent >= 30)
        #expect(try running.store.sampleCount(runID: started.id) == sent, "every package the instrument sent")
        await running.stop()
        await port.stop()
    }
}

/// Checks, for a while, that the simulated Keithley's output is off in the high-impedance state.
private func expectOutputOff(_ keithley: Keithley2400Simulator, after end: String) async {
    #expect(await !keithley.isOutputOn, "after a \(end) run the output is off")
    #expect(await keithley.outputOffMode == "HIMP", "after a \(end) run the output-off state opens the relay")
}
