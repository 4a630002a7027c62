import Domain
import Foundation

// The stop verdicts of ``DendriteShortCriterion``: what each test found, in words and as evidence.
extension DendriteShortCriterion {
    /// A warning, once per step, that a sample could not be judged; the sample changes nothing.
    mutating func cannotJudge(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        guard !warnedInStep else { return nil }
        warnedInStep = true
        let time_s = sample.time_s.isFinite ? sample.time_s : previousTime_s ?? context.startTime_s
        return Verdict(
            criterion: name, action: .warn,
            reason: "a sample with a non-finite time or voltage was not judged (step \(context.step.index)); later "
                + "samples of the step are judged as usual",
            time_s: time_s, currentDensity_mA_cm2: context.step.currentDensity_mA_cm2)
    }

    func verdict(
        _ test: Test, sample: InstrumentSample, context: StepContext, observed: Double, expected_V: Double,
        prediction: (value: Double, leverage: Double), noiseLevel: Double, allowance_V: Double, resolution_V: Double
    ) -> Verdict {
        let onset: Double
        let what: String
        switch test {
        case .level:
            onset = lastZeroTime_s ?? context.startTime_s
            what =
                "|V| fell \(millivolts(expected_V - observed)) mV below the expected \(millivolts(expected_V)) mV "
                + "(CUSUM \(formatNumber(cusum, significantDigits: 3)) >= \(formatNumber(tuning.threshold)) at noise "
                + "\(formatNumber(noiseLevel * 1e6, significantDigits: 3)) uV)"
        case .increment:
            onset = increments.startTime_s ?? context.startTime_s
            what =
                "|V| fell \(millivolts(expected_V - observed)) mV below the expected \(millivolts(expected_V)) mV "
                + "(consecutive falls far beyond the step's sample-to-sample noise, sum "
                + "\(formatNumber(increments.sum, significantDigits: 3)) >= \(formatNumber(tuning.incrementThreshold)))"
        case .totalFall:
            onset = level.atReferenceTime_s ?? context.startTime_s
            what =
                "|V| has lost \(formatNumber(level.fall * 100, significantDigits: 3)) % of the step's settled level of "
                + "\(millivolts(level.reference_V ?? 0)) mV (now \(millivolts(level.smoothed_V ?? observed)) mV)"
        case .oneSidedNoise:
            onset = oneSided.onsetTime_s ?? context.startTime_s
            let tails = oneSided.tails
            what =
                "|V| keeps dropping below the expected \(millivolts(expected_V)) mV and never rises above it (lower "
                + "tail \(millivolts(tails?.lower ?? 0)) mV against upper \(millivolts(tails?.upper ?? 0)) mV)"
        case .noiseJump:
            onset = sample.time_s - Double(noiseJumpRun) * interval_s
            what =
                "|V| flickers \(formatNumber((level.whiteNoise_V ?? 0) / max(crossWhiteNoise_V ?? 0, 1e-12), significantDigits: 3)) "
                + "times as much from sample to sample as at the end of an earlier step at a similar current, and its "
                + "mean lies below the healthy \(millivolts(max(crossReference_V ?? 0, flickerFreeLevel ?? 0))) mV "
                + "(that step's end or |V| between the dips; now \(millivolts(mean(recent.latest(8)))) mV)"
        case .noiseRise:
            onset = sample.time_s - Double(noiseRiseRun) * interval_s
            what =
                "|V| flickers \(formatNumber((level.whiteNoise_V ?? 0) / max(quietWhiteNoise_V ?? 0, 1e-12), significantDigits: 3)) "
                + "times as much from sample to sample as earlier in the step, and lies below the step's "
                + "\(millivolts(quietLevel_V ?? 0)) mV then (now \(millivolts(observed)) mV)"
        case .fastFall:
            onset = fastFall.startTime_s ?? context.startTime_s
            what =
                "|V| fell from \(millivolts(fastFall.reference_V ?? 0)) mV to \(millivolts(observed)) mV and stayed "
                + "down for \(fastFall.run) samples"
        case .drops:
            onset = drops.firstTime_s ?? context.startTime_s
            what =
                "\(drops.downs) drops far below the expected |V| without an upward one, and |V| has not come back "
                + "(now \(millivolts(observed)) mV, expected \(millivolts(expected_V)) mV)"
        }
        var evidence: [String: Double] = [
            "test": Double(test.rawValue), "voltage_V": sample.voltage_V, "expected_V": expected_V,
            "residual_V": observed - expected_V, "predicted_V": prediction.value, "spikes_seen": Double(spikesSeen),
            "noise_V": noiseLevel, "cusum": cusum, "threshold": tuning.threshold, "allowance_V": allowance_V,
            "leverage": prediction.leverage, "min_drop_V": settings.minimumDrop_V, "memory_s": effectiveMemory_s,
            "noise_floor_V": settings.noiseFloor_V, "step_samples": Double(context.sampleCount),
            "onset_time_s": onset, "increment_sum": increments.sum,
            "increment_threshold": tuning.incrementThreshold, "resolution_V": resolution_V,
            "settled_fall": level.fall, "total_fall_threshold": tuning.totalFall, "drops": Double(drops.downs),
        ]
        if let settled = level.reference_V { evidence["settled_level_V"] = settled }
        return Verdict(
            criterion: name, action: .stop,
            reason: what + " during a \(context.step.kind.rawValue) step at "
                + "\(formatNumber(context.step.currentDensity_mA_cm2)) mA/cm2",
            time_s: sample.time_s, onsetTime_s: onset, currentDensity_mA_cm2: context.step.currentDensity_mA_cm2,
            evidence: evidence)
    }
}

private func millivolts(_ volts: Double) -> String { formatNumber(volts * 1e3, significantDigits: 4) }

func mean(_ values: some Collection<Double>) -> Double {
    values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
}

func median(_ values: some Collection<Double>) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
