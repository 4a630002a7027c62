import Control
import Domain
import Foundation
import SerialTransport
import Simulation
import Storage
import TestSupport
import Testing
import Transport
import WireSimulators

@testable import Daemon

/// Force on a 0.785 cm2 pellet at 2.5 MPa.
let clampForce_N = 196.25

/// The ohmic test cell, shorting at 0.3 mA/cm2 so the CCD ladder reaches it within a few cycles.
func testCell(seed: UInt64 = 7) -> OhmicCell {
    var configuration = SimulatedCellConfiguration(criticalCurrentDensity_mA_cm2: 0.3)
    configuration.seed = seed
    return OhmicCell(configuration: configuration, area_cm2: 0.196, stackPressure_MPa: 2.5, temperature_C: 20)
}

/// A rig file for serial instruments at `galvanostatPort` (and a Mark-10 at `pressurePort`), loaded as the daemon does.
///
/// The instruments get a 30 s reply timeout unless `options` sets one: a wire simulator on a loaded machine (CI
/// shares two cores) can take seconds to answer, which the product's defaults, right for real instruments, would
/// call a fault.
func serialRig(
    id: String, driver: String, galvanostatPort: String, options: String = "", pressurePort: String? = nil
) throws -> RigDescription {
    let options = options.contains("reply_timeout") ? options : "  reply_timeout: 30 s\n" + options
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
        limits:
          voltage: 5 V
          current: 20 mA
        galvanostat:
          driver: \(driver)
          port: \(galvanostatPort)
        \(options)
        """
    if let pressurePort {
        text += """

            pressure_sensor:
              driver: mark10
              port: \(pressurePort)
              reply_timeout: 30 s
              pellet_area: 0.785 cm2
              calibration: {scale: 1.0, offset: 0 N}
              reading_interval: 30 s
            """
    }
    return try DaemonConfiguration.loadRig(text: text + "\n", file: "\(id).yaml")
}

/// The seed protocol with its sampling interval, capacity and cycle count cut so a run takes seconds.
func shortened(_ path: String, cycles: Int? = nil, interval: String = "10 s") throws -> String {
    var text = try TestSupport.readRepositoryFile(path)
        .replacingOccurrences(of: "sampling_interval: 1 s", with: "sampling_interval: \(interval)")
        .replacingOccurrences(of: "capacity: 0.5 mAh/cm2", with: "capacity: 0.05 mAh/cm2")
    if let cycles { text = text.replacingOccurrences(of: "cycles: 25", with: "cycles: \(cycles)") }
    return text
}

extension RunningDaemon {
    func startRun(text: String, file: String, rig: String, parameters: [String: String] = [:]) async throws
        -> RunStatus
    {
        let request = StartRunRequest(
            protocol_file: file, protocol_text: text, rig: rig, cell_label: "serial-cell", parameters: parameters)
        let client = client
        return try await TestSupport.onThread {
            try client.request("POST", "/v1/runs", body: request, as: RunStatus.self)
        }
    }

    var store: RunStore {
        get throws { try RunStore(readOnlyPath: directory.appendingPathComponent("cellrig.sqlite").path) }
    }
}

/// A rest, a galvanostatic spectrum (100 kHz to 10 Hz, 2 points per decade, 10 uA RMS) and another rest.
private let galvanostaticSpectrum = """
    schema: 1
    name: geis-test
    sampling_interval: 1 s
    steps:
      - rest:
          duration: 5 s
      - impedance:
          control: galvanostatic
          from: 100 kHz
          to: 10 Hz
          points_per_decade: 2
          amplitude: 10 uA
      - rest:
          duration: 5 s

    """

@Suite("Serial rigs: daemon -> driver -> pseudo-terminal -> wire simulator", .serialized)
struct SerialRigTests {
    @Test("the CCD protocol through MethodSCRIPT with a Mark-10: every sample sent is stored, with its pressure")
    func methodScriptCCD() async throws {
        let simulator = MethodScriptSimulator(cell: testCell())
        let port = try SimulatedPort.start(simulator)
        let gauge = try SimulatedPort.start(Mark10Simulator { clampForce_N })
        let rig = try serialRig(
            id: "ms", driver: "methodscript", galvanostatPort: port.path, options: "  reply_timeout: 30 s",
            pressurePort: gauge.path)
        let running = try await RunningDaemon.start(rigs: [rig])
        let started = try await running.startRun(
            text: try shortened("protocols/ccd-step-symmetric.yaml"), file: "ccd-short.yaml", rig: "ms")
        let final = try await running.waitForEnd(started.id)
        #expect(final.state == "stopped", "\(final.reason ?? "")")
        let ccd = try #require(final.ccd_mA_cm2)
        #expect(abs(ccd - 0.3) < 0.01, "the cell shorts at 0.3 mA/cm2; found \(ccd): \(final.reason ?? "")")

        let store = try running.store
        let stored = try store.sampleCount(runID: started.id)
        let dropped = try #require(final.discarded_readings, "a finished run reports its discarded readings")
        // Every package counts, cell on or off: those read while a step change aborted a script, and those of the
        // open-circuit measurement the run's end started, which finishing the run aborts and records.
        let sent = await simulator.sentSampleCount
        #expect(stored > 1000)
        #expect(stored == sent, "the simulator sent \(sent) packages, the database holds \(stored)")
        #expect(dropped == 0)
        var pressures: Set<Double> = []
        var previous = -1
        var gaps = 0
        try store.forEachSample(runID: started.id) { recorded in
            if recorded.seq != previous + 1 { gaps += 1 }
            previous = recorded.seq
            pressures.insert(try #require(recorded.sample.pressure_MPa))
        }
        #expect(gaps == 0)
        #expect(pressures.allSatisfy { abs($0 - 2.5) < 0.01 }, "pressure = force / pellet area: \(pressures)")

        let identities = try store.instruments(runID: started.id)
        #expect(identities.map(\.role) == ["galvanostat", "pressure"])
        #expect(identities[0].model == "PalmSens EmStat4 HR")
        #expect(identities[0].serialNumber == "ES4HR-SIM-0001")
        #expect(identities[0].port == port.path)
        #expect(identities[1].model == "Mark-10 M5-200")
        #expect(identities[1].serialNumber == "SIM5200")
        #expect(identities[1].firmware == "1.05")
        let recordedRig = try #require(try store.rig(runID: started.id))
        #expect(recordedRig.pressureSensor?.calibration == StackPressureCalibration(pelletArea_cm2: 0.785))
        await running.stop()
        await port.stop()
        await gauge.stop()
    }

    @Test("the CCD protocol through a Keithley 2400: the database holds every reading the instrument sent")
    func keithleyCCD() async throws {
        let simulator = Keithley2400Simulator(cell: testCell(seed: 3))
        let port = try SimulatedPort.start(simulator)
        let rig = try serialRig(id: "k", driver: "keithley2400", galvanostatPort: port.path)
        let running = try await RunningDaemon.start(rigs: [rig])
        let started = try await running.startRun(
            text: try shortened("protocols/ccd-step-symmetric.yaml"), file: "ccd-short.yaml", rig: "k")
        let final = try await running.waitForEnd(started.id)
        #expect(final.state == "stopped", "\(final.reason ?? "")")
        let ccd = try #require(final.ccd_mA_cm2)
        #expect(abs(ccd - 0.3) < 0.01, "found \(ccd)")
        let stored = try running.store.sampleCount(runID: started.id)
        let sent = await simulator.sentSampleCount
        #expect(stored > 1000)
        #expect(stored == sent, "the simulator answered \(sent) readings, the database holds \(stored)")
        let instruments = try running.store.instruments(runID: started.id)
        #expect(instruments.map(\.model) == ["Keithley 2400"])
        await running.stop()
        await port.stop()
    }

    @Test("the three-electrode stripping protocol (3 cycles) through MethodSCRIPT and a Modbus load cell")
    func strippingWithModbus() async throws {
        let simulator = MethodScriptSimulator(cell: testCell(seed: 11))
        let port = try SimulatedPort.start(simulator)
        let loadCell = try SimulatedPort.start(
            ModbusLoadCellSimulator(
                layout: .init(stationAddress: 3, register: 10, valueType: .int32, newtonsPerCount: 0.01)
            ) { clampForce_N })
        var rig = try serialRig(id: "strip", driver: "methodscript", galvanostatPort: port.path)
        rig = try DaemonConfiguration.loadRig(
            text: """
                schema: 1
                id: strip
                cell: {metal: K, electrolyte: K-beta''-alumina, electrode_area: 0.196 cm2, stack_pressure: 2.5 MPa}
                limits: {voltage: 5 V, current: 20 mA}
                galvanostat: {driver: methodscript, port: \(port.path), baud: 230400, reply_timeout: 30 s}
                pressure_sensor:
                  driver: modbus
                  port: \(loadCell.path)
                  parity: none                # a pseudo-terminal cannot carry Modbus's default even parity
                  reply_timeout: 30 s
                  model: Test transmitter
                  serial_number: LC-42
                  station: 3
                  register: 10
                  value_type: int32
                  newtons_per_count: 0.01
                  pellet_area: 0.785 cm2
                  calibration: {scale: 1.02, offset: -2 N}

                """, file: "strip.yaml")
        let running = try await RunningDaemon.start(rigs: [rig])
        let started = try await running.startRun(
            text: try shortened("protocols/stripping-3e.yaml", cycles: 3), file: "strip-short.yaml", rig: "strip",
            parameters: ["current_density": "0.2 mA/cm2"])
        let final = try await running.waitForEnd(started.id)
        #expect(final.state == "completed", "\(final.reason ?? "")")
        let store = try running.store
        let stored = try store.sampleCount(runID: started.id)
        let dropped = try #require(final.discarded_readings, "a finished run reports its discarded readings")
        // Every package counts, cell on or off (see methodScriptCCD).
        let sent = await simulator.sentSampleCount
        #expect(stored > 100)
        #expect(stored == sent, "the simulator sent \(sent) packages, the database holds \(stored)")
        #expect(dropped == 0)
        let expected = StackPressureCalibration(pelletArea_cm2: 0.785, scale: 1.02, offset_N: -2)
            .pressure_MPa(force_N: clampForce_N)
        var off = 0
        try store.forEachSample(runID: started.id) { recorded in
            if abs((recorded.sample.pressure_MPa ?? -1) - expected) > 1e-6 { off += 1 }
        }
        #expect(off == 0, "every sample carries (1.02 F - 2 N) / pellet area = \(expected) MPa")
        let identities = try store.instruments(runID: started.id)
        #expect(identities.last?.model == "Test transmitter")
        #expect(identities.last?.serialNumber == "LC-42")
        await running.stop()
        await port.stop()
        await loadCell.stop()
    }

    @Test("the three-electrode stripping test through MethodSCRIPT: every sample holds WE-RE and WE-CE")
    func methodScriptThreeElectrode() async throws {
        var parameters = try PhysicsCellParameters.preset(named: "k-beta-alumina")
        try parameters.override("threeElectrode", with: 1)
        try parameters.override("electrodeArea_cm2", with: 0.196)
        let simulator = MethodScriptSimulator(cell: PhysicsCell(parameters: parameters))
        let port = try SimulatedPort.start(simulator)
        let rig = try serialRig(id: "3e", driver: "methodscript", galvanostatPort: port.path)
        let running = try await RunningDaemon.start(rigs: [rig])
        // The rig has no pressure sensor, so the protocol's stack-pressure guard must be marked optional to run.
        let text = try shortened("protocols/stripping-3e.yaml", cycles: 2)
            .replacingOccurrences(of: "  - stack-pressure:\n", with: "  - stack-pressure:\n      optional: true\n")
        let started = try await running.startRun(text: text, file: "stripping-short.yaml", rig: "3e")
        let final = try await running.waitForEnd(started.id)
        #expect(final.state == "completed", "\(final.reason ?? "")")

        let store = try running.store
        var samples: [InstrumentSample] = []
        try store.forEachSample(runID: started.id) { samples.append($0.sample) }
        #expect(samples.count == (await simulator.sentSampleCount))
        #expect(samples.allSatisfy { $0.voltageWERE_V != nil }, "WE-RE in every sample")
        // With current flowing, the cell voltage adds the counter electrode and the rest of the electrolyte to WE-RE.
        let driven = samples.filter { $0.current_A != 0 }
        #expect(driven.count >= 60)
        let larger = driven.filter { abs($0.voltage_V) > abs($0.voltageWERE_V!) + 1e-4 }
        #expect(larger.count == driven.count, "\(driven.count - larger.count) samples where |V| <= |WE-RE|")
        #expect(driven.allSatisfy { ($0.voltage_V > 0) == ($0.voltageWERE_V! > 0) }, "same sign as the current's")
        await running.stop()
        await port.stop()
    }

    @Test("a galvanostatic spectrum through MethodSCRIPT: the database holds every point the simulator measured")
    func methodScriptImpedance() async throws {
        let simulator = MethodScriptSimulator(cell: testCell())
        let port = try SimulatedPort.start(simulator)
        let rig = try serialRig(id: "eis", driver: "methodscript", galvanostatPort: port.path)
        let running = try await RunningDaemon.start(rigs: [rig])
        let started = try await running.startRun(text: galvanostaticSpectrum, file: "geis.yaml", rig: "eis")
        let final = try await running.waitForEnd(started.id)
        #expect(final.state == "completed", "\(final.reason ?? "")")

        let store = try running.store
        let spectrum = try store.spectra(runID: started.id)
        let frequencies = spectrum.map(\.point.frequency_Hz)
        #expect(spectrum.count == 9, "4 decades at 2 points per decade, both ends included")
        #expect(abs(frequencies.first! - 1e5) < 1e-3 && abs(frequencies.last! - 10) < 1e-6, "\(frequencies)")
        #expect(zip(frequencies, frequencies.dropFirst()).allSatisfy { $0 > $1 }, "swept downwards")
        // The ohmic test cell's impedance at those frequencies (no short: the cell never carried a current).
        let expected = testCell().impedance(atFrequencies: frequencies)
        for (stored, truth) in zip(spectrum, expected) {
            #expect(abs(stored.point.real_Ohm - truth.real) <= 1e-6 * truth.magnitude, "\(stored) vs \(truth)")
            #expect(abs(stored.point.imaginary_Ohm - truth.imaginary) <= 1e-6 * truth.magnitude)
        }
        #expect(spectrum.allSatisfy { $0.stepIndex == 1 && $0.point.imaginary_Ohm < 0 }, "capacitive, in step 1")

        // Every package is a sample or a point, and time runs on through the spectrum.
        let sent = await simulator.sentSampleCount
        let samples = try store.sampleCount(runID: started.id)
        #expect(samples + spectrum.count == sent, "sent \(sent), samples \(samples), points \(spectrum.count)")
        var sampleTimes: [Double] = []
        try store.forEachSample(runID: started.id) { sampleTimes.append($0.sample.time_s) }
        let times = sampleTimes + spectrum.map(\.point.time_s)
        #expect(Set(times).count == times.count, "no sample and point share a time")
        let steps = try store.steps(runID: started.id)
        #expect(steps.map(\.kind) == ["rest", "impedance", "rest"])
        #expect(steps[1].endReason == "measured")
        #expect(abs(steps[1].endTime_s! - spectrum.last!.point.time_s) < 1e-9, "the step ends with its last point")
        await running.stop()
        await port.stop()
    }

    @Test("a rig whose galvanostat has no impedance capability refuses a protocol with an impedance step")
    func keithleyRefusesImpedance() async throws {
        let port = try SimulatedPort.start(Keithley2400Simulator(cell: testCell()))
        let rig = try serialRig(id: "k", driver: "keithley2400", galvanostatPort: port.path)
        let running = try await RunningDaemon.start(rigs: [rig])
        do {
            _ = try await running.startRun(text: galvanostaticSpectrum, file: "geis.yaml", rig: "k")
            Issue.record("the run must be refused")
        } catch ControlClientError.daemon(let status, let message) {
            #expect(status == 400)
            #expect(message.contains("geis.yaml") && message.contains("cannot measure impedance"), "\(message)")
        }
        await running.stop()
        await port.stop()
    }

    /// A daemon with one MethodSCRIPT rig `id` whose port is a link to a simulator that is unplugged after 40
    /// packages (in the first plating step of the CCD protocol, between two packages).
    private func unpluggableRig(id: String) async throws -> (
        simulator: MethodScriptSimulator, port: SimulatedPort, link: String, running: RunningDaemon
    ) {
        let directory = try TestSupport.scratchDirectory()
        let link = directory.appendingPathComponent("methodscript").path
        let simulator = MethodScriptSimulator(
            cell: testCell(), speed: .factor(20), faults: .init(hangUpAfterPackages: 40))
        let port = try SimulatedPort.start(simulator)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: port.path)
        let rig = try serialRig(id: id, driver: "methodscript", galvanostatPort: link)
        let running = try await RunningDaemon.start(rigs: [rig], directory: directory)
        return (simulator, port, link, running)
    }

    @Test("unplugged mid-step: samples before are stored, the run faults, and the next run reconnects")
    func unplug() async throws {
        let (simulator, port, link, running) = try await unpluggableRig(id: "u")
        let protocolText = try TestSupport.readRepositoryFile("protocols/ccd-step-symmetric.yaml")
        let started = try await running.startRun(text: protocolText, file: "ccd.yaml", rig: "u")
        let final = try await running.waitForEnd(started.id)
        #expect(final.state == "faulted")
        await port.stop()
        let sent = await simulator.sentSampleCount
        let stored = try running.store.sampleCount(runID: started.id)
        // Nothing was in flight when the port went: every package the host read is a stored sample.
        #expect(stored == sent, "sent \(sent), stored \(stored)")
        let fault = try #require(try running.store.events(runID: started.id).first { $0.kind == .fault })
        #expect(fault.message.contains("disconnected"), "\(fault.message)")
        #expect(fault.message.contains("sent \""), "the fault names the bytes: \(fault.message)")
        let rigs = try await TestSupport.onThread { try running.client.request("GET", "/v1/rigs", as: [RigInfo].self) }
        #expect(rigs.first?.unavailable?.contains(link) == true, "the rig shows its port is gone")
        do {
            _ = try await running.startRun(text: protocolText, file: "ccd.yaml", rig: "u")
            Issue.record("a run on a rig without its instrument must be refused")
        } catch ControlClientError.daemon(let status, let message) {
            #expect(status == 503)
            #expect(message.contains(link) && message.contains("not present"), "\(message)")
        }

        // The instrument comes back (on another pseudo-terminal, behind the same link): the next run works.
        let second = MethodScriptSimulator(cell: testCell())
        let replugged = try SimulatedPort.start(second)
        try FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: replugged.path)
        let again = try await running.startRun(text: protocolText, file: "ccd.yaml", rig: "u")
        let running2 = try await TestSupport.eventually { try await running.status(again.id).samples > 5 }
        #expect(running2)
        let client = running.client
        let aborted = try await TestSupport.onThread {
            try client.request("POST", "/v1/runs/\(again.id)/abort", as: RunStatus.self)
        }
        #expect(aborted.state == "aborted")
        #expect(try running.store.instruments(runID: again.id).first?.port == "\(link) (\(replugged.path))")
        await running.stop()
        await replugged.stop()
    }

    @Test("with on_instrument_loss: pause, an unplugged instrument pauses the run; it reconnects and resumes")
    func unplugPausesAndReconnects() async throws {
        let (simulator, port, link, running) = try await unpluggableRig(id: "p")
        await running.daemon.runners["p"]?.setReconnectInterval(.milliseconds(100))
        let protocolText =
            try TestSupport.readRepositoryFile("protocols/ccd-step-symmetric.yaml") + "on_instrument_loss: pause\n"
        let started = try await running.startRun(text: protocolText, file: "ccd.yaml", rig: "p")

        let paused = try await TestSupport.eventually { try await running.status(started.id).state == "paused" }
        #expect(paused, "the run pauses when the port goes away")
        #expect(try running.store.sampleCount(runID: started.id) == 40, "every package sent before the unplug")
        let lostEvent = try running.store.events(runID: started.id).first { $0.kind == .fault }
        #expect(lostEvent?.message.contains("instrument lost") == true, "\(lostEvent?.message ?? "no fault event")")
        await port.stop()

        // The instrument comes back behind the same link, on another pseudo-terminal.
        let second = MethodScriptSimulator(cell: testCell(seed: 8), speed: .factor(20))
        let replugged = try SimulatedPort.start(second)
        try FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: replugged.path)
        let reconnected = try await TestSupport.eventually {
            try running.store.events(runID: started.id).contains { $0.message.contains("instrument reconnected") }
        }
        #expect(reconnected)
        #expect(try await running.status(started.id).state == "paused", "it waits for the operator")
        let client = running.client
        let resumed = try await TestSupport.onThread {
            try client.request("POST", "/v1/runs/\(started.id)/resume", as: RunStatus.self)
        }
        #expect(resumed.state == "running")
        let platingAgain = try await TestSupport.eventually {
            let stored = try running.store.sampleCount(runID: started.id)
            return await second.isCellOn && stored > 60
        }
        #expect(platingAgain, "the step's current is applied again through the reopened port")
        let aborted = try await TestSupport.onThread {
            try client.request("POST", "/v1/runs/\(started.id)/abort", as: RunStatus.self)
        }
        #expect(aborted.state == "aborted")

        let store = try running.store
        var times: [Double] = []
        try store.forEachSample(runID: started.id) { times.append($0.sample.time_s) }
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 < $1 }, "one clock across the reconnection")
        let sent = await simulator.sentSampleCount + second.sentSampleCount
        #expect(times.count == sent, "both instruments' packages are all stored: sent \(sent), stored \(times.count)")
        let galvanostats = try store.instruments(runID: started.id).filter { $0.role == "galvanostat" }
        #expect(galvanostats.map(\.port) == ["\(link) (\(port.path))", "\(link) (\(replugged.path))"])
        await running.stop()
        await replugged.stop()
    }

    @Test(
        "a reply timeout and a garbled reply fault the run with a typed error and the bytes",
        arguments: [FaultyLink.Fault.silence, .garble])
    func replyFaults(fault: FaultyLink.Fault) async throws {
        let simulator = Keithley2400Simulator(cell: testCell())
        let port = try SimulatedPort.start(FaultyLink(simulator, fault: fault, afterReadings: 30))
        let rig = try serialRig(
            id: "f", driver: "keithley2400", galvanostatPort: port.path,
            options: "  reply_timeout: 10 s\n  integration_plc: 0.01")
        let running = try await RunningDaemon.start(rigs: [rig])
        let started = try await running.startRun(
            text: try shortened("protocols/ccd-step-symmetric.yaml", interval: "0.1 s"), file: "ccd-short.yaml",
            rig: "f")
        let final = try await running.waitForEnd(started.id)
        #expect(final.state == "faulted")
        #expect(try running.store.sampleCount(runID: started.id) == 30)
        let message = try #require(try running.store.events(runID: started.id).first { $0.kind == .fault }).message
        if fault == .silence {
            #expect(message.contains("timeout"), "\(message)")
            #expect(message.contains("sent \":READ?\\r\""), "\(message)")
        } else {
            #expect(message.contains("invalid-reply"), "\(message)")
            #expect(message.contains("\\x15"), "the garbled bytes are in the event: \(message)")
        }
        await running.stop()
        await port.stop()
    }

    @Test("a rig whose port is absent still loads; the daemon starts and refuses runs on it plainly")
    func absentPort() async throws {
        let rig = try serialRig(id: "gone", driver: "methodscript", galvanostatPort: "/dev/serial/by-id/usb-none-if00")
        let usbRig = try serialRig(id: "usb", driver: "keithley2400", galvanostatPort: "usb:0403:6001:FT-NOPE")
        let running = try await RunningDaemon.start(rigs: [rig, usbRig, try ohmicSimulatedRig()])
        let rigs = try await TestSupport.onThread { try running.client.request("GET", "/v1/rigs", as: [RigInfo].self) }
        #expect(rigs.map(\.id) == ["gone", "usb", "sim-ohmic"])
        #expect(rigs[0].unavailable?.contains("/dev/serial/by-id/usb-none-if00") == true)
        #expect(rigs[1].unavailable?.contains("usb:0403:6001:FT-NOPE") == true)
        #expect(rigs[2].unavailable == nil)
        do {
            _ = try await running.startRun("protocols/ccd-step-symmetric.yaml", rig: "gone")
            Issue.record("must be refused")
        } catch ControlClientError.daemon(let status, let message) {
            #expect(status == 503)
            #expect(message.contains("rig 'gone'") && message.contains("not present"), "\(message)")
        }
        await running.stop()
    }
}

/// Sits between a simulator and its pseudo-terminal and spoils the instrument's replies after `afterReadings`
/// lines: it stops answering (a reply timeout) or answers with control characters (a garbled reply).
actor FaultyLink: WireSimulator {
    enum Fault: Sendable, Hashable, CustomTestStringConvertible {
        case silence
        case garble

        var testDescription: String { self == .silence ? "reply timeout" : "garbled reply" }
    }

    private let inner: any WireSimulator
    private let fault: Fault
    private let afterReadings: Int
    private var readingReplies = 0

    init(_ inner: some WireSimulator, fault: Fault, afterReadings: Int) {
        self.inner = inner
        self.fault = fault
        self.afterReadings = afterReadings
    }

    func serve(on transport: any ByteTransport) async {
        let (host, instrument) = await InMemoryTransport.pair(hostDescription: "faulty link")
        let inner = inner
        let serving = Task { await inner.serve(on: instrument) }
        let downstream = Task { await self.forwardReplies(from: host, to: transport) }
        while !Task.isCancelled {
            do {
                let bytes = try await transport.receive(maxCount: 4096, timeouts: ReceiveTimeouts(reply: .seconds(1)))
                try await host.send(bytes)
            } catch let error as TransportError where error.kind == .timeout {
                continue
            } catch {
                break
            }
        }
        downstream.cancel()
        await host.close()
        serving.cancel()
        await serving.value
        await downstream.value
    }

    private func forwardReplies(from host: InMemoryTransport, to transport: any ByteTransport) async {
        var line: [UInt8] = []
        while !Task.isCancelled {
            guard let bytes = try? await host.receive(maxCount: 4096, timeouts: ReceiveTimeouts(reply: .seconds(1)))
            else { continue }
            for byte in bytes {
                line.append(byte)
                guard byte == 0x0D else { continue }
                let reply = line
                line = []
                // A reading has four comma-separated numbers; count those, pass every other reply through.
                if reply.filter({ $0 == UInt8(ascii: ",") }).count == 3,
                    reply.first == UInt8(ascii: "+")
                        || reply.first == UInt8(ascii: "-")
                {
                    readingReplies += 1
                }
                if readingReplies <= afterReadings {
                    try? await transport.send(reply)
                } else if fault == .garble {
                    try? await transport.send([0x15, 0x02] + Array("+1.2E".utf8) + [0x0D])
                }
            }
        }
    }
}
