import Control
import Domain
import Foundation
import Simulation
import Storage
import TestSupport
import Testing
import WireSimulators

@testable import Daemon

/// A run interrupted while its rig heats continues at the temperature its protocol set: the simulated clamp is
/// brought back to where it stood, and a temperature controller gets its setpoint again.
@Suite("Restarts keep the run's temperature setpoint", .serialized)
struct RestartTemperatureTests {
    /// Heats to 80 C without waiting, then rests for 2 h at open circuit (the heater keeps going).
    private let heatAndRest = """
        schema: 1
        name: heat-and-rest
        sampling_interval: 10 s
        steps:
          - set_temperature: {setpoint: 80 C}
          - rest: {duration: 2 h}

        """

    @Test("a simulated heated clamp goes on heating after a restart, from the temperature it had reached")
    func simulatedHeaterContinues() async throws {
        let directory = try TestSupport.scratchDirectory()
        // The built-in conditioning rig with a slower clamp (50 min instead of 5), so the daemon stops mid-way
        // however late the test's stop comes.
        var rig = try DaemonConfiguration.loadRig(
            text: EmbeddedRigs.simLiConditioning.replacingOccurrences(
                of: "time_constant: 300 s", with: "time_constant: 3000 s"),
            file: "rigs/sim-li-conditioning.yaml")
        guard case .simulated(var configuration) = rig.galvanostat else { throw CancellationError() }
        configuration.speed = .factor(120)
        rig.galvanostat = .simulated(configuration)

        let first = try await RunningDaemon.start(rigs: [rig], directory: directory)
        let started = try await first.startRun(text: heatAndRest, file: "heat.yaml", rig: rig.id)
        let warming = try await TestSupport.eventually { try await first.status(started.id).samples >= 30 }
        #expect(warming)
        await first.stop()
        var before: [Double] = []
        try first.store.forEachSample(runID: started.id) { before.append($0.sample.temperature_C ?? .nan) }
        let reached = try #require(before.last)
        #expect(
            reached > 27 && reached < 75,
            "the clamp was heating when the daemon stopped: \(reached) C, from \(before.prefix(8)) over \(before.count) samples"
        )

        let second = try await RunningDaemon.start(rigs: [rig], directory: directory)
        let more = try await TestSupport.eventually {
            try await second.status(started.id).samples >= before.count + 100
        }
        #expect(more)
        await second.stop()
        var after: [Double] = []
        try second.store.forEachSample(runID: started.id) { after.append($0.sample.temperature_C ?? .nan) }
        let resumed = after.dropFirst(before.count)
        #expect(!resumed.isEmpty)
        #expect(
            resumed.allSatisfy { $0 >= reached - 0.5 },
            "no sample after the restart is colder than before it: \(reached) C, then \(resumed.prefix(5))")
        #expect(
            (resumed.last ?? 0) > reached + 1,
            "the clamp goes on heating towards 80 C after the restart: \(reached) C, then \(resumed.last ?? 0) C")
        let events = try second.store.events(runID: started.id).map(\.message)
        #expect(events.contains { $0.contains("temperature setpoint of step 0 (80 C) is written again") }, "\(events)")
    }

    @Test("a temperature controller switched off by the previous daemon's end gets the setpoint again on restart")
    func controllerGetsTheSetpointAgain() async throws {
        let directory = try TestSupport.scratchDirectory()
        let potentiostat = MethodScriptSimulator(cell: testCell(), speed: .factor(200))
        let port = try SimulatedPort.start(potentiostat)
        let oven = eurothermOven(
            following: potentiostat, plant: .init(ambient_C: 22, timeConstant_s: 120, maximumRise_C: 150))
        let controller = try SimulatedPort.start(oven)
        let rig = try DaemonConfiguration.loadRig(
            text: """
                schema: 1
                id: oven
                cell:
                  metal: Li
                  electrolyte: Li6PS5Cl
                  electrode_area: 0.0314 cm2
                  temperature: 25 C
                limits:
                  voltage: 5 V
                  current: 20 mA
                galvanostat:
                  driver: methodscript
                  port: \(port.path)
                  reply_timeout: 30 s
                temperature_controller:
                  driver: modbus
                  preset: eurotherm-3200
                  port: \(controller.path)
                  reply_timeout: 30 s
                  reading_interval: 10 s
                  at_run_end: output-off

                """, file: "oven.yaml")

        let first = try await RunningDaemon.start(rigs: [rig], directory: directory)
        let started = try await first.startRun(text: heatAndRest, file: "heat.yaml", rig: "oven")
        let going = try await TestSupport.eventually { try await first.status(started.id).samples >= 5 }
        #expect(going)
        await first.stop()
        #expect(try first.store.run(id: started.id)?.state == .interrupted)
        #expect(await oven.isOutputEnabled == false, "the shutdown's end of the run switched the heater off")

        let second = try await RunningDaemon.start(rigs: [rig], directory: directory)
        // The driver writes the setpoint, then enables the output: wait for both.
        let rewritten = try await TestSupport.eventually {
            let writes = await oven.setpointWrites.count
            let enabled = await oven.isOutputEnabled
            return writes >= 2 && enabled
        }
        #expect(rewritten)
        #expect(await oven.setpointWrites == [80, 80], "the setpoint is written at the step and again at the restart")
        #expect(try await second.status(started.id).state == "running")
        #expect(await oven.isOutputEnabled, "the heater is on again while the run rests at 80 C")
        await second.stop()
        await port.stop()
        await controller.stop()
    }
}
