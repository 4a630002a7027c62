import ControlServer
import Domain
import Engine
import Foundation
import ProtocolFiles
import Replay
import Simulation
import Storage

/// Everything needed to continue a run a restart interrupted, rebuilt from what the database holds.
struct RestoredRun: Sendable {
    let runID: Int64
    let testProtocol: TestProtocol
    let cell: CellDescription
    /// The engine after every stored sample: in the same step, with the same charge and criteria state as when the
    /// run was interrupted.
    let engine: RunEngine
    /// What the run had its instrument do, after how many samples: a simulator replays it to bring its cell back.
    let outputs: [(samplesBefore: Int, output: SimulatedGalvanostat.Output)]
    let storedSamples: Int
    let storedEvents: Int
    let storedInputs: Int
    /// Typical |controlled voltage| of the interrupted step before the gap (its latest judged samples under
    /// current), to recognise a cell that shorted meanwhile; nil when the step had none.
    let levelBeforeGap_V: Double?
    /// Wall time since the run's last stored batch.
    let gap_s: Double?
}

/// Rebuilds an interrupted run's engine by feeding its stored samples, spectra and pauses through the same engine
/// the live run used: the engine is deterministic, so it ends where the live run stood.
enum RunRestorer {
    static func restore(runID: Int64, store: RunStore, voltageResolution_V: Double?) throws(ControlFailure)
        -> RestoredRun
    {
        do {
            guard let run = try store.run(id: runID), let recorded = try store.recordedProtocol(runID: runID) else {
                throw ControlFailure.notFound("no run \(runID)")
            }
            let testProtocol = try ProtocolFile.parse(
                recorded.text, file: recorded.file, parameters: recorded.parameters)
            var context = RunContext(cell: recorded.cell, conditions: testProtocol.conditions)
            context.voltageResolution_V = voltageResolution_V
            let engine = try RunEngine(protocol: testProtocol, area_cm2: run.area_cm2, context: context)
            var driver = ReplayDriver(engine: engine, samplingInterval_s: testProtocol.samplingInterval_s)
            driver.spectra = Dictionary(grouping: try store.spectra(runID: runID), by: \.stepIndex)
                .mapValues { $0.map(\.point) }
            driver.inputs = try store.inputs(runID: runID)
            driver.start(at: 0)
            var stored = 0
            var recentLevels: [Double] = []
            var levelStep: Int?
            try store.forEachSample(runID: runID) { recorded in
                driver.feed(recorded.sample)
                stored += 1
                let engine = driver.engine
                guard recorded.sample.isJudged, !engine.isPaused, let step = engine.currentStep?.step,
                    step.current_A != 0, recorded.stepIndex == step.index
                else { return }
                if levelStep != step.index {
                    levelStep = step.index
                    recentLevels.removeAll()
                }
                let voltage =
                    engine.threeElectrode
                    ? (recorded.sample.voltageWERE_V ?? recorded.sample.voltage_V) : recorded.sample.voltage_V
                recentLevels.append(abs(voltage))
                if recentLevels.count > 10 { recentLevels.removeFirst() }
            }
            driver.applyInputs(upTo: stored)
            driver.settlePendingSpectrum()
            let level = levelStep == driver.engine.currentStep?.step.index ? median(recentLevels) : nil
            return RestoredRun(
                runID: runID, testProtocol: testProtocol, cell: recorded.cell, engine: driver.engine,
                outputs: driver.commands.map { ($0.samplesBefore, simulatorOutput($0.command)) },
                storedSamples: stored, storedEvents: try store.eventCount(runID: runID),
                storedInputs: driver.inputs?.count ?? 0, levelBeforeGap_V: level,
                gap_s: run.lastWrittenAt.map { Date().timeIntervalSince($0) })
        } catch let failure as ControlFailure {
            throw failure
        } catch {
            throw ControlFailure(status: 500, "run \(runID) cannot be rebuilt from the database: \(error)")
        }
    }

    /// What the simulated instrument saw of `command`.
    private static func simulatorOutput(_ command: InstrumentCommand) -> SimulatedGalvanostat.Output {
        switch command {
        case .applyCurrent(let current): .current(current)
        case .openCircuit: .openCircuit
        case .measureImpedance(let settings): .spectrum(settings)
        case .applyPotential(let program): .potential(program)
        case .setTemperature(let setpoint_C): .temperature(setpoint_C)
        }
    }

    private static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }
}
