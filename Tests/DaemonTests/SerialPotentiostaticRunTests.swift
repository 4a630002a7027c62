import Control
import Domain
import Foundation
import Simulation
import Storage
import TestSupport
import Testing
import WireSimulators

@testable import Daemon

/// A hold, a sweep up and back, and a hold with a current limit, on a two-electrode cell (potentials vs CE).
private let potentiostaticProtocol = """
    schema: 1
    name: keithley-potentiostatic
    sampling_interval: 0.1 s
    steps:
      - potentiostatic: {potential: 100 mV, duration: 3 s}
      - sweep: {from: 0 mV, vertices: [200 mV], to: 0 mV, rate: 200 mV/s}
      - potentiostatic: {potential: 50 mV, duration: $hold, current_limit: 1 mA}
    parameters:
      hold: 2 s

    """

/// The ohmic test cell (about 724 Ohm) without its short: these runs drive 0.7 to 1.4 mA/cm2, above the CCD test
/// cell's 0.3 mA/cm2, and a simulator that runs ahead of a slow host must not short it meanwhile.
private func ohmicCell() -> OhmicCell {
    var configuration = SimulatedCellConfiguration(criticalCurrentDensity_mA_cm2: 1000)
    configuration.seed = 7
    return OhmicCell(configuration: configuration, area_cm2: 0.196, stackPressure_MPa: 2.5, temperature_C: 20)
}

/// The hold's mean current is 100 mV / 724.5 Ohm and the sweep's peak 200 mV / 724.5 Ohm, each within 10 %, on the
/// samples measured under each step's own output (a late sample was measured under the output before); the sweep
/// runs to its end (back to 0 V) within its 2 s on the instrument's clock, however late the hold's script stopped
/// and however long a reading takes.
private func expectCurrentsFollowTheOhmicCell(
    _ store: RunStore, runID: Int64, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    var holdCurrents: [Double] = []
    var sweepPeak = 0.0
    var sweepPoints = 0
    var sweepEnd_V = Double.nan
    try store.forEachSample(runID: runID) { recorded in
        guard !recorded.sample.flags.contains(.late) else { return }
        if recorded.stepIndex == 0 { holdCurrents.append(recorded.sample.current_A) }
        if recorded.stepIndex == 1 {
            sweepPeak = max(sweepPeak, recorded.sample.current_A)
            sweepPoints += 1
            sweepEnd_V = recorded.sample.voltage_V
        }
    }
    let hold = holdCurrents.reduce(0, +) / Double(max(holdCurrents.count, 1))
    #expect(holdCurrents.count >= 25, sourceLocation: sourceLocation)
    #expect(sweepPoints >= 15, "\(sweepPoints) sweep points", sourceLocation: sourceLocation)
    #expect(abs(sweepEnd_V) <= 0.021, "the sweep ended at \(sweepEnd_V) V", sourceLocation: sourceLocation)
    #expect(abs(hold - 0.1 / 724.5) < 0.1 * 0.1 / 724.5, "hold current \(hold) A", sourceLocation: sourceLocation)
    #expect(
        abs(sweepPeak - 0.2 / 724.5) < 0.1 * 0.2 / 724.5, "sweep peak \(sweepPeak) A", sourceLocation: sourceLocation)
}

@Suite("Potentiostatic runs on serial instruments (Keithley 2400, MethodSCRIPT) over pseudo-terminals", .serialized)
struct SerialPotentiostaticRunTests {
    @Test("a potentiostatic run that completes leaves the output off; the current follows the cell")
    func completedRunLeavesTheOutputOff() async throws {
        let simulator = Keithley2400Simulator(cell: ohmicCell())
        let port = try SimulatedPort.start(simulator)
        let rig = try serialRig(id: "k", driver: "keithley2400", galvanostatPort: port.path)
        let running = try await RunningDaemon.start(rigs: [rig])
        let started = try await running.startRun(text: potentiostaticProtocol, file: "pot.yaml", rig: "k")
        let final = try await running.waitForEnd(started.id)
        #expect(final.state == "completed", "\(final.reason ?? "")")
        #expect(await simulator.isOutputOn == false, "the voltage source must be off after the run")
        #expect(await simulator.outputOffMode == "HIMP")
        // The ohmic cell (100 + 2 x 21 Ohm cm2 on 0.196 cm2, about 724 Ohm) draws about 138 uA at 100 mV.
        try expectCurrentsFollowTheOhmicCell(running.store, runID: started.id)
        await running.stop()
        await port.stop()
    }

    @Test("an aborted potentiostatic run leaves the output off")
    func abortedRunLeavesTheOutputOff() async throws {
        let simulator = Keithley2400Simulator(cell: ohmicCell(), speed: .factor(10))
        let port = try SimulatedPort.start(simulator)
        let rig = try serialRig(id: "k", driver: "keithley2400", galvanostatPort: port.path)
        let running = try await RunningDaemon.start(rigs: [rig])
        let started = try await running.startRun(
            text: potentiostaticProtocol, file: "pot.yaml", rig: "k", parameters: ["hold": "1 h"])
        let client = running.client
        // Wait until the last step holds its potential, then abort.
        for _ in 0..<600 {
            let status = try await TestSupport.onThread {
                try client.request("GET", "/v1/runs/\(started.id)", as: RunStatus.self)
            }
            if status.progress?.step == 2, await simulator.isOutputOn { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(await simulator.isOutputOn, "the hold runs before the abort")
        #expect(await simulator.sourcedFunction == "VOLT")
        _ = try await TestSupport.onThread {
            try client.request("POST", "/v1/runs/\(started.id)/abort", as: RunStatus.self)
        }
        let final = try await running.waitForEnd(started.id)
        #expect(final.state == "aborted")
        #expect(await simulator.isOutputOn == false, "the voltage source must be off after an abort")
        await running.stop()
        await port.stop()
    }

    @Test("a shutdown during a potentiostatic hold leaves the output off")
    func shutdownLeavesTheOutputOff() async throws {
        let simulator = Keithley2400Simulator(cell: ohmicCell(), speed: .factor(10))
        let port = try SimulatedPort.start(simulator)
        let rig = try serialRig(id: "k", driver: "keithley2400", galvanostatPort: port.path)
        let running = try await RunningDaemon.start(rigs: [rig])
        _ = try await running.startRun(
            text: potentiostaticProtocol, file: "pot.yaml", rig: "k", parameters: ["hold": "1 h"])
        for _ in 0..<600 where await !simulator.isOutputOn {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(await simulator.isOutputOn)
        await running.stop()
        #expect(await simulator.isOutputOn == false, "the voltage source must be off after a shutdown")
        await port.stop()
    }

    @Test("the same protocol through MethodSCRIPT (CA, LSV as a CV-shaped sweep, CA): completes, cell off, I = V/R")
    func methodScriptRun() async throws {
        let simulator = MethodScriptSimulator(cell: ohmicCell())
        let port = try SimulatedPort.start(simulator)
        let rig = try serialRig(id: "m", driver: "methodscript", galvanostatPort: port.path)
        let running = try await RunningDaemon.start(rigs: [rig])
        let started = try await running.startRun(text: potentiostaticProtocol, file: "pot.yaml", rig: "m")
        let final = try await running.waitForEnd(started.id)
        #expect(final.state == "completed", "\(final.reason ?? "")")
        #expect(await simulator.isCellOn == false, "the cell must be off after the run")
        try expectCurrentsFollowTheOhmicCell(running.store, runID: started.id)
        await running.stop()
        await port.stop()
    }
}
