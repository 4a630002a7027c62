import Domain
import Engine
import ImpedanceAnalysis
import Storage

extension RunLoop {
    /// Fits the circuit the impedance step names (if any) off the loop, stores the fit, and records its result
    /// as an event. A spectrum that cannot be fitted is an event too, never a fault of the run.
    func fitInBackground(_ spectrum: RecordedSpectrum) {
        guard engine.plan.steps.indices.contains(spectrum.stepIndex) else { return }
        let step = engine.plan.steps[spectrum.stepIndex]
        guard step.impedanceFit != nil else { return }
        let (area_cm2, threeElectrode, store, runID) = (engine.plan.area_cm2, engine.threeElectrode, store, runID)
        let time_s = engine.latestTime_s
        fitTasks.append(
            Task.detached {
                let message: String
                do {
                    if let fit = try ImpedanceFitter.fitMeasuredSpectrum(
                        spectrum.points, step: step, area_cm2: area_cm2, threeElectrode: threeElectrode)
                    {
                        try store.saveImpedanceFit(fit, runID: runID, stepIndex: spectrum.stepIndex)
                        message = "step \(spectrum.stepIndex): \(fit.summary)"
                    } else {
                        message = "step \(spectrum.stepIndex): no circuit to fit"
                    }
                } catch {
                    message = "step \(spectrum.stepIndex): the spectrum could not be fitted: \(error)"
                }
                await self.record(
                    RunEvent(kind: .impedanceFitted, time_s: time_s, message: message, stepIndex: spectrum.stepIndex))
            })
    }
}
