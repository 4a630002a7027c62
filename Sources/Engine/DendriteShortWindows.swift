import Domain

// Fine sampling in ``DendriteShortCriterion``: the same tests judged again on means over windows.
extension DendriteShortCriterion {
    /// At fine sampling: adds the sample to the present window and, once it holds
    /// ``ShortDetectionTuning/aggregationWindow_s`` worth of samples, lets the windowed criterion judge their mean.
    /// A 0.1 s run is thereby judged like a 1 s one as well (a slow fall a fraction of the noise per sample stands out
    /// of means; a burst of a few disturbed readings is one low mean, not a tail of low samples). Its stop is this
    /// criterion's, at this sample.
    mutating func judgeWindow(
        _ sample: InstrumentSample, context: StepContext, resolution_V: Double
    ) -> Verdict? {
        guard !windowed.isEmpty else { return nil }
        let needed = max(2, Int((tuning.aggregationWindow_s / interval_s).rounded()))
        guard let mean = windowMean.add(sample, needed: needed) else { return nil }
        var windowContext = context
        windowContext.elapsed_s = mean.time_s - context.startTime_s
        windowContext.sampleCount = windowMean.windowsInStep
        windowed[0].outerResolution_V = resolution_V
        guard var verdict = windowed[0].evaluate(mean, context: windowContext), verdict.action == .stop else {
            return nil
        }
        verdict.time_s = sample.time_s
        verdict.reason = "on means of \(needed) samples: " + verdict.reason
        verdict.evidence["window_samples"] = Double(needed)
        return verdict
    }
}

/// Means of consecutive windows of samples within a step, for judging fine sampling as coarse sampling is judged:
/// a window's mean time and mean voltage (signed), with the current of its latest sample.
struct WindowMean: Sendable {
    private var sumTime = 0.0
    private var sumVoltage = 0.0
    private var count = 0
    /// Windows completed in the present step.
    private(set) var windowsInStep = 0

    mutating func reset() {
        sumTime = 0
        sumVoltage = 0
        count = 0
        windowsInStep = 0
    }

    /// Adds a sample; returns the window's mean once it holds `needed` samples (and starts the next).
    mutating func add(_ sample: InstrumentSample, needed: Int) -> InstrumentSample? {
        guard sample.time_s.isFinite, sample.voltage_V.isFinite else { return nil }
        sumTime += sample.time_s
        sumVoltage += sample.voltage_V
        count += 1
        guard count >= needed else { return nil }
        let mean = InstrumentSample(
            time_s: sumTime / Double(count), current_A: sample.current_A, voltage_V: sumVoltage / Double(count))
        sumTime = 0
        sumVoltage = 0
        count = 0
        windowsInStep += 1
        return mean
    }
}
