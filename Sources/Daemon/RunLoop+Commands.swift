import Domain
import Engine
import ImpedanceAnalysis
import Instruments
import Logging

/// The step and verdict handling of the run loop: samples into the engine, the engine's commands out to the
/// instruments, in that order (the cell's safety never waits for a disk write).
extension RunLoop {
    /// Feeds a batch to the engine, sample by sample, until the engine commands the instrument or the batch ends.
    func ingest(_ batch: [InstrumentSample]) async {
        var index = batch.startIndex
        while index < batch.endIndex, !engine.isFinished {
            let sample = clock.place(batch[index], now: batchArrival)
            let wasPaused = engine.isPaused
            // After a restart, the first sample under current is compared with the level before the gap before the
            // criteria see it: a cell that shorted meanwhile ends the run as not resumed, not as a short found now.
            if shortCheck != nil, let refusal = judgeAfterRestart(sample) {
                let ended = engine.end(.interrupted, reason: refusal)
                record(engine.ingest(sample))
                index += 1
                var late = Array(batch[index...])
                if !late.isEmpty, await galvanostat.rewind(toSampleAt: batch[index - 1].time_s) { late = [] }
                await carryOut(ended, lateSamples: late)
                return
            }
            let output = engine.ingest(sample)
            index += 1
            guard !output.commands.isEmpty else {
                record(output)
                continue
            }
            // The batch's later samples were measured before this command could take effect: a simulator that
            // measured ahead takes them back, a real instrument's are recorded as late.
            var late = Array(batch[index...])
            if !late.isEmpty, await galvanostat.rewind(toSampleAt: batch[index - 1].time_s) { late = [] }
            index = batch.endIndex
            await carryOut(output, lateSamples: late)
            if engine.isPaused != wasPaused, !engine.isFinished { notePause(engine.isPaused) }
        }
    }

    /// Carries out what the engine commanded, then records what it produced and the samples measured before the
    /// command took effect. A refused command ends the run as faulted, at open circuit.
    func carryOut(_ output: EngineOutput, lateSamples: [InstrumentSample] = []) async {
        var refusal: (command: InstrumentCommand, error: any Error)?
        var spectrum: [ImpedancePoint]?
        for command in output.commands {
            let stopsTheCell = command == .openCircuit && output.outcome?.state == .stopped && cellOffCommand == nil
            if stopsTheCell { cellOffCommand = ContinuousClock.now - batchArrival }
            do {
                if let measured = try await perform(command) { spectrum = measured }
            } catch {
                refusal = (command, error)
                break
            }
            if stopsTheCell { cellOffConfirmed = ContinuousClock.now - batchArrival }
        }
        record(output)
        for sample in lateSamples { record(engine.recordLate(clock.place(sample, now: batchArrival))) }
        if !output.commands.isEmpty, refusal == nil { await recordPendingSamples() }
        if let spectrum, refusal == nil, !engine.isFinished {
            await carryOut(engine.impedanceMeasured(spectrum))
            return
        }
        if let (command, error) = refusal {
            logger.error("run \(runID): instrument refused \(command): \(error)")
            recordFault("instrument refused \(command): \(error)")
            if !engine.isFinished {
                record(engine.end(.faulted, reason: FaultReason.instrumentFault(error, during: command)))
            }
            try? await galvanostat.openCircuit()
        }
    }

    /// Hands one command to the instrument that carries it out; returns the spectrum an impedance measurement took.
    private func perform(_ command: InstrumentCommand) async throws -> [ImpedancePoint]? {
        switch command {
        case .applyCurrent(let current): try await galvanostat.applyCurrent(current)
        case .openCircuit: try await galvanostat.openCircuit()
        case .applyPotential(let program):
            guard let potentiostat = galvanostat as? any Potentiostat else {
                throw InstrumentError(
                    .rejected, instrument: session.rig.id, "the rig's galvanostat cannot set a potential")
            }
            try await potentiostat.applyPotential(program)
        case .measureImpedance(let settings):
            guard let analyzer = galvanostat as? any ImpedanceAnalyzer else {
                throw InstrumentError(
                    .rejected, instrument: session.rig.id, "the rig's galvanostat cannot measure impedance")
            }
            return try await analyzer.measureImpedance(settings)
        case .setTemperature(let setpoint_C):
            guard let heater = galvanostat as? any TemperatureSetting, heater.controlsTemperature else {
                throw InstrumentError(.rejected, instrument: session.rig.id, "the rig has no temperature controller")
            }
            try await heater.setTemperature(setpoint_C)
        }
        return nil
    }

    /// Records the samples the driver read while a command changed the output (a MethodSCRIPT script it aborted):
    /// measured under the previous output, so late and unjudged.
    func recordPendingSamples() async {
        for sample in await galvanostat.takePendingSamples() {
            record(engine.recordLate(clock.place(sample, now: ContinuousClock.now)))
        }
    }
}
