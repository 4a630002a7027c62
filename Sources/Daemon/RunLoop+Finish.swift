import Domain
import Engine
import Instruments
import Logging
import Simulation
import Storage

/// The end of every run, whatever ended it: the instrument left off and idle, everything recorded and flushed,
/// the outcome stored (or journalled), the ports closed.
extension RunLoop {
    /// Ends the run on the instrument (cell off, instrument idle), records what it still held, flushes, stores the
    /// outcome and closes the ports.
    func finish() async -> RunOutcome {
        do {
            try await galvanostat.finishRun()
        } catch {
            logger.error("run \(runID): finishing the run on the instrument failed: \(error)")
        }
        for task in fitTasks { await task.value }
        // Samples the instrument sent while it stopped are the run's too: recorded after its end, unjudged.
        for sample in await galvanostat.takePendingSamples() {
            record(engine.recordLate(clock.place(sample, now: ContinuousClock.now)))
        }
        await flushAndWait()
        writer.close()
        var outcome = engine.outcome ?? RunOutcome(state: .faulted, reason: "the run loop ended without an outcome")
        if let failure = writer.failure, outcome.state != .faulted {
            outcome = RunOutcome(
                state: .faulted, reason: "storage failed: \(failure) (the run had ended: \(outcome.reason))")
        }
        outcome.reactionTime_s = cellOffCommand?.seconds
        outcome.cellOffConfirmedTime_s = cellOffConfirmed?.seconds
        let discarded = await session.discardedReadingCount
        if let simulated = session.simulated {
            try? store.recordGroundTruth(runID, events: await simulated.groundTruth)
        }
        do {
            try store.finishRun(runID, outcome: outcome, discardedReadings: discarded)
        } catch {
            logger.critical("run \(runID): cannot record the outcome in the database: \(error)")
            pendingOutcomes.keep(outcome, runID: runID)
            do {
                try journal.append(.init(runID: runID, outcome: outcome, discardedReadings: discarded))
                logger.notice("run \(runID): its outcome is kept in \(journal.path) for the next start to record")
            } catch {
                logger.critical("run \(runID): cannot keep the outcome in \(journal.path) either: \(error)")
            }
        }
        await session.close()
        publishProgress(force: true)
        logger.info("run \(runID) \(outcome.state.rawValue): \(outcome.reason); \(writer.storedSamples) samples stored")
        return outcome
    }
}
