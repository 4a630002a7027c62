import Control
import Domain
import Foundation
import Simulation
import Storage
import TestSupport
import Testing
import WireSimulators

@testable import Daemon

/// Force on a 0.785 cm2 pellet at 7 MPa.
private let clampForceAt7MPa_N = 549.5

/// A Eurotherm 3200 on a simulated clamp that heats on `potentiostat`'s cell clock.
func eurothermOven(
    following potentiostat: MethodScriptSimulator, plant: TemperatureControllerSimulator.Plant = .init()
) -> TemperatureControllerSimulator {
    TemperatureControllerSimulator(
        map: TemperatureControllerConfiguration(
            preset: .eurotherm3200, line: SerialLineConfiguration(port: "", baudRate: 9600)),
        plant: plant
    ) { await potentiostat.elapsedCellTime_s }
}

/// Seed 004's rig on pseudo-terminals: MethodSCRIPT, a Mark-10 and a temperature controller whose clamp heats on the
/// MethodSCRIPT cell's clock. The protocol is the shipped file with its holds, capacities and spectra shortened, so
/// the run takes seconds of wall time; the simulators run at unlimited speed, so nothing here depends on the
/// machine's load.
@Suite("Seed 004 conditioning: MethodSCRIPT + Mark-10 + temperature controller over pseudo-terminals", .serialized)
struct ConditioningRigTests {
    private func rigText(galvanostat: String, gauge: String, controller: String, atRunEnd: String) -> String {
        """
        schema: 1
        id: li-oven
        cell:
          metal: Li
          electrolyte: Li6PS5Cl
          electrode_area: 0.0314 cm2
          metal_thickness: 100 um
          stack_pressure: 7 MPa
          temperature: 25 C
        limits:
          voltage: 5 V
          current: 20 mA
        galvanostat:
          driver: methodscript
          port: \(galvanostat)
          reply_timeout: 10 s
        pressure_sensor:
          driver: mark10
          port: \(gauge)
          pellet_area: 0.785 cm2
          reading_interval: 10 s
          capacity: 1000 N
        temperature_controller:
          driver: modbus
          preset: eurotherm-3200
          port: \(controller)
          reply_timeout: 5 s
          reading_interval: 10 s
          at_run_end: \(atRunEnd)

        """
    }

    private func shortenedProtocol() throws -> String {
        try TestSupport.readRepositoryFile("protocols/conditioned-ccd-3e.yaml")
            .replacingOccurrences(of: "sampling_interval: 1 s", with: "sampling_interval: 5 s")
            .replacingOccurrences(of: "for 1 h", with: "for 5 min")
            .replacingOccurrences(of: "for: 10 min", with: "for: 2 min")
            .replacingOccurrences(of: "capacity: 0.2 mAh/cm2", with: "capacity: 0.02 mAh/cm2")
            .replacingOccurrences(of: "points_per_decade: 10", with: "points_per_decade: 2")
    }

    /// The conditioning protocol heats, holds, cools and waits for pressure, then runs the CCD; every sample has its
    /// temperature; the heater follows `at_run_end`.
    @Test("seed 004's conditioning runs over pseudo-terminals with temperature_C on every sample")
    func conditioningRunsOnSerialInstruments() async throws {
        var parameters = try PhysicsCellParameters.preset(named: "li-lpscl")
        try parameters.override("threeElectrode", with: 1)
        try parameters.override("electrodeArea_cm2", with: 0.0314)
        let potentiostat = MethodScriptSimulator(cell: PhysicsCell(parameters: parameters))
        let port = try SimulatedPort.start(potentiostat)
        let gauge = try SimulatedPort.start(Mark10Simulator { clampForceAt7MPa_N })
        let oven = eurothermOven(
            following: potentiostat, plant: .init(ambient_C: 22, timeConstant_s: 120, maximumRise_C: 150))
        let controller = try SimulatedPort.start(oven)
        let rig = try DaemonConfiguration.loadRig(
            text: rigText(
                galvanostat: port.path, gauge: gauge.path, controller: controller.path, atRunEnd: "output-off"),
            file: "li-oven.yaml")
        let running = try await RunningDaemon.start(rigs: [rig])
        let started = try await running.startRun(
            text: try shortenedProtocol(), file: "conditioned-short.yaml", rig: "li-oven")
        let final = try await running.waitForEnd(started.id)
        #expect(["stopped", "completed"].contains(final.state), "\(final.state): \(final.reason ?? "")")

        let store = try running.store
        let steps = try store.steps(runID: started.id)
        #expect(
            steps.prefix(4).map(\.endReason) == ["settled", "settled", "settled", "settled"],
            "heat, hold, cool and the pressure wait all end on their conditions: \(steps.prefix(5))")
        #expect(steps.prefix(5).map(\.kind) == ["set_temperature", "wait", "set_temperature", "wait", "impedance"])
        let hold = try #require(steps.first { $0.index == 1 })
        #expect((hold.endTime_s ?? 0) - hold.startTime_s >= 300, "the hold lasts at least its 5 min")
        #expect(steps.contains { $0.kind == "plate" }, "the CCD ran after the conditioning")
        #expect(await oven.setpointWrites == [80, 25])

        var samples: [RecordedSample] = []
        try store.forEachSample(runID: started.id) { samples.append($0) }
        // Every package sent is stored: as a sample, or as a point of an impedance spectrum.
        let spectrumPoints = try store.spectra(runID: started.id).count
        #expect(spectrumPoints > 0)
        #expect(
            samples.count + spectrumPoints == (await potentiostat.sentSampleCount),
            "\(samples.count) samples and \(spectrumPoints) impedance points stored")
        let missing = samples.filter { $0.sample.temperature_C == nil }
        #expect(missing.isEmpty, "samples without a temperature: \(missing.prefix(3))")
        #expect(samples.allSatisfy { $0.sample.pressure_MPa != nil })
        let holdTemperatures = samples.filter { $0.stepIndex == 1 }.compactMap(\.sample.temperature_C)
        #expect(!holdTemperatures.isEmpty && holdTemperatures.allSatisfy { abs($0 - 80) <= 1 }, "\(holdTemperatures)")
        let cycling = samples.filter { $0.stepIndex >= 5 }.compactMap(\.sample.temperature_C)
        #expect(!cycling.isEmpty && cycling.allSatisfy { abs($0 - 25) <= 1 }, "the CCD runs at the test temperature")
        let pressures = samples.filter { $0.stepIndex == 3 }.compactMap(\.sample.pressure_MPa)
        #expect(pressures.allSatisfy { abs($0 - 7) <= 0.2 })

        let instruments = try store.instruments(runID: started.id)
        #expect(instruments.map(\.role) == ["galvanostat", "pressure", "temperature"])
        #expect(instruments.last?.model == "Eurotherm 3200")
        #expect(await potentiostat.isCellOn == false, "the cell is at open circuit after the run")
        #expect(await oven.isOutputEnabled == false, "at_run_end: output-off switched the heater off")

        await running.stop()
        await port.stop()
        await gauge.stop()
        await controller.stop()
    }

    @Test("a wait not met within its timeout pauses the run at open circuit and says why; abort ends it")
    func waitTimeoutPausesAndSaysWhy() async throws {
        let potentiostat = MethodScriptSimulator(cell: testCell())
        let port = try SimulatedPort.start(potentiostat)
        // The operator has not tightened the clamp: 5 MPa on the pellet, not 7.
        let gauge = try SimulatedPort.start(Mark10Simulator { 392.5 })
        let oven = eurothermOven(following: potentiostat)
        let controller = try SimulatedPort.start(oven)
        let rig = try DaemonConfiguration.loadRig(
            text: rigText(galvanostat: port.path, gauge: gauge.path, controller: controller.path, atRunEnd: "keep"),
            file: "li-oven.yaml")
        let running = try await RunningDaemon.start(rigs: [rig])
        let text = """
            schema: 1
            name: clamp-wait
            sampling_interval: 5 s
            steps:
              - wait: {until: stack_pressure within 7 +/- 0.2 MPa for 1 min, timeout: 5 min}
              - rest: {duration: 10 s}

            """
        let started = try await running.startRun(text: text, file: "clamp-wait.yaml", rig: "li-oven")
        let paused = try await TestSupport.eventually { try await running.status(started.id).state == "paused" }
        try #require(paused, "5 MPa against 7 +/- 0.2 MPa for 5 min pauses the run")
        let status = try await running.status(started.id)
        let verdict = try #require(status.verdicts.first { $0.criterion == "wait" && $0.action == "pause" })
        #expect(verdict.reason.contains("stack_pressure within 7 +/- 0.2 MPa for 1 min"), "\(verdict.reason)")
        #expect(verdict.reason.contains("last read 5 MPa"), "\(verdict.reason)")
        #expect(verdict.reason.contains("5 min timeout"), "\(verdict.reason)")
        #expect(status.progress?.current_A == 0, "the cell is at open circuit while the run waits")

        let client = running.client
        let aborted = try await TestSupport.onThread {
            try client.request("POST", "/v1/runs/\(started.id)/abort", as: RunStatus.self)
        }
        #expect(aborted.state == "aborted")
        var temperatures = 0
        try running.store.forEachSample(runID: started.id) { if $0.sample.temperature_C == 22 { temperatures += 1 } }
        #expect(temperatures >= 60, "every sample of the 5 min wait carries the clamp's temperature")
        #expect(await oven.isOutputEnabled == false, "at_run_end: keep leaves the controller as it was (off)")
        await running.stop()
        await port.stop()
        await gauge.stop()
        await controller.stop()
    }

    @Test("a protocol that sets the temperature is refused on a rig without a temperature controller")
    func setTemperatureNeedsAController() async throws {
        let potentiostat = MethodScriptSimulator(cell: testCell())
        let port = try SimulatedPort.start(potentiostat)
        let rig = try serialRig(id: "bare", driver: "methodscript", galvanostatPort: port.path)
        let running = try await RunningDaemon.start(rigs: [rig])
        do {
            _ = try await running.startRun(text: try shortenedProtocol(), file: "conditioned.yaml", rig: "bare")
            Issue.record("the run must be refused")
        } catch {
            #expect("\(error)".contains("no temperature controller"), "\(error)")
        }
        await running.stop()
        await port.stop()
    }
}
