import Domain

// The tests of ``DendriteShortCriterion`` that compare |V| with a level it had earlier, not with a prediction.
extension DendriteShortCriterion {
    /// The total-fall test (|V| has lost a large share of the step's settled level, or of an earlier step's at a
    /// similar current) and the noise-jump test, each once it has held for long enough in a row.
    mutating func judgeFallFromEarlierLevels(
        context: StepContext, enoughSamples: Bool, wander_V: Double, floor_V: Double, minimumFall_V: Double
    ) -> (totalFall: Bool, noiseJump: Bool) {
        // Total fall from the settled level: needs only the step to have settled. Against an earlier step's settled
        // level, once this step's first seconds are past, the fall must be larger (the start of a step may still lie
        // below its own level, and the two steps' currents differ a little).
        let significantFall_V = max(tuning.totalFallSignificance * wander_V, minimumFall_V)
        var totalFallNow =
            enoughSamples && level.isSettled && level.fall >= tuning.totalFall && level.fall_V >= significantFall_V
        if !totalFallNow, enoughSamples, context.elapsed_s >= tuning.settle_s, let reference = crossReference_V,
            let smoothed = level.smoothed_V
        {
            totalFallNow =
                smoothed <= reference * (1 - tuning.crossStepFall) && reference - smoothed >= significantFall_V
        }
        totalFallRun = totalFallNow ? totalFallRun + 1 : 0
        // Noise jump: a contact making and breaking makes |V| flicker from sample to sample far more than the same
        // cell did at the end of an earlier step at a similar current, while |V| lies below the healthy level: that
        // step's end, or higher, where the flicker leaves |V| between its dips (``flickerFreeLevel``).
        var noiseJumpNow = false
        if !judgesWindows, enoughSamples, context.elapsed_s >= tuning.noiseJumpSettle_s,
            let reference = crossReference_V,
            let before = crossWhiteNoise_V, let white = level.whiteNoise_V
        {
            let latestMean = mean(recent.latest(8))
            if white >= tuning.noiseJumpFactor * max(before, floor_V) {
                let healthy_V = max(reference, flickerFreeLevel ?? reference)
                noiseJumpNow = healthy_V - latestMean >= max(tuning.noiseJumpFall * healthy_V, minimumFall_V)
            }
        }
        noiseJumpRun = noiseJumpNow ? noiseJumpRun + 1 : 0
        return (totalFallRun >= 2, noiseJumpRun >= tuning.oneSidedSamples)
    }

    /// Where a short's flicker leaves |V| between its dips: the ``ShortDetectionTuning/flickerFreeShare`` quantile
    /// of the latest ``ShortDetectionTuning/flickerFreeSamples``. A conductance that comes and goes in parallel with
    /// the cell only ever lowers |V|, so the samples taken while it is open sit at the healthy level, which at a
    /// higher current or in a step still relaxing upwards lies above the earlier step's end; the mean then lies far
    /// below that level. Noise that spreads both ways puts this quantile only about 0.84 of its spread above the mean,
    /// short of the fall the test asks for unless the noise is itself several per cent of |V|.
    var flickerFreeLevel: Double? {
        guard tuning.flickerFreeShare > 0 else { return nil }
        let latest = recent.latest(tuning.flickerFreeSamples).sorted()
        guard latest.count >= tuning.flickerFreeSamples, !latest.isEmpty else { return nil }
        return latest[min(latest.count - 1, Int(tuning.flickerFreeShare * Double(latest.count - 1)))]
    }

    /// The noise-rise test: a contact making and breaking makes |V| flicker from sample to sample far more than it
    /// did earlier in the same step (its largest white noise over its first judged samples), while the mean of
    /// the latest samples lies below the step's level then. Glitches and bursts touch too few of the changes to move
    /// their robust spread; a trend or a relaxation moves the changes' median, not their spread.
    mutating func judgeNoiseRise(determined: Bool, floor_V: Double, minimumFall_V: Double) -> Bool {
        guard tuning.noiseRiseFactor > 0, !judgesWindows, determined, let white = level.whiteNoise_V else {
            noiseRiseRun = 0
            return false
        }
        determinedInStep += 1
        // The quiet noise is the largest estimate over the step's first judged samples: one estimate from 31 changes
        // can come out low by a fifth or more, and a rise is judged only against the whole quiet stretch.
        if determinedInStep <= tuning.noiseRiseQuietSamples {
            if determinedInStep >= tuning.noiseRiseQuietSamples / 3 {
                quietWhiteNoise_V = max(quietWhiteNoise_V ?? 0, white)
                quietLevel_V = median(recent.latest(16))
            }
            return false
        }
        guard let quiet = quietWhiteNoise_V, let quietLevel = quietLevel_V else { return false }
        let latestMean = mean(recent.latest(8))
        let risen =
            white >= tuning.noiseRiseFactor * max(quiet, floor_V)
            && quietLevel - latestMean >= max(tuning.noiseJumpFall * quietLevel, minimumFall_V)
        noiseRiseRun = risen ? noiseRiseRun + 1 : 0
        return noiseRiseRun >= tuning.oneSidedSamples
    }
}
