import Domain

/// Dendrite short while plating, found by a change-point test on the residual of a model of the expected polarisation.
///
/// For every watched step a bank of ``TransientTrendModel``s (level, trend and two decaying transients with time
/// constants from 0.5 s to 32 s) predicts the next |V|; the model in use is the one that has predicted best so far in
/// the run, so the transient time constants are in effect fitted on earlier steps. The shortfall of each sample below
/// the prediction, less an allowance, is standardised by a robust noise estimate and the prediction's own uncertainty
/// and summed in a one-sided CUSUM. The run stops when the sum passes its threshold on the second (or later)
/// consecutive sample below the allowance, the third once the run has shown an isolated spike: a single spike cannot
/// trip it, nor two in a row on a spiking instrument; decaying transients are part of the model, and slow drift is
/// followed by the trend. A stop also needs |V| to lie below its level before the shortfall began (medians of the
/// samples either side), and the shortfall is measured against the prediction before the sum started where that is
/// lower: a rise that levels off falls short of its extrapolation but is not a fall. Samples that deviate strongly
/// teach the models only a clipped amount, so a real fall is not absorbed before it is found; where the bank's
/// best-scoring models disagree about the next sample, that disagreement widens the spread. Once a step has settled,
/// samples building up a shortfall do not teach the noise estimate, so a slow fall cannot hide itself in it. The onset
/// is the last sample at which the tripping test's sum was zero, counting the samples before that test began to judge
/// (a fall that starts while the step settles is dated to its start, not to the step's); the CCD is the step's current
/// density.
public struct DendriteShortCriterion: StopCriterion {
    /// The parameters a protocol gives.
    public struct Settings: Sendable, Hashable {
        public var during: PlatingWatch
        /// Smallest sustained fall below the prediction that counts, volts.
        public var minimumDrop_V: Double
        /// Forgetting time of the models, seconds (at least 20 sampling intervals are kept).
        public var memory_s: Double
        /// Lowest noise assumed, volts.
        public var noiseFloor_V: Double

        public init(during: PlatingWatch, minimumDrop_V: Double, memory_s: Double, noiseFloor_V: Double) {
            self.during = during
            self.minimumDrop_V = minimumDrop_V
            self.memory_s = memory_s
            self.noiseFloor_V = noiseFloor_V
        }
    }

    /// CUSUM allowance, threshold and per-sample clip, in units of the standardised residual.
    static let allowance = 1.5
    static let threshold = 16.0
    static let clip = 8.0
    /// Residuals beyond this many standard deviations teach the models only up to it.
    static let teachingClip = 4.0
    /// The bank's disagreement is taken over this many of its best-scoring models: one that has predicted badly
    /// all run is no evidence that the active model is uncertain.
    static let plausibleModels = 5
    static let transientPairs: [(fast: Double, slow: Double)] = [
        (0.5, 1), (0.5, 2), (1, 2), (1, 4), (2, 4), (2, 8), (4, 8), (4, 16), (8, 16), (8, 32),
    ]

    public let name = "dendrite-short"
    public let detectsShort = true
    public let settings: Settings

    private var models: [TransientTrendModel] = []
    private var scores: [Double]
    private var noise = RobustScale(capacity: 31)
    private var watching = false
    private var cusum = 0.0
    private var consecutiveBelow = 0
    private var incrementStartTime_s: Double?
    private var watchedSteps = 0
    private var lastZeroTime_s: Double?
    /// The prediction at the last sample the sum was zero after: a fall is judged against the lower of it and the
    /// current prediction, so a rise that levels off (a plateau under a rising trend) is not a fall.
    private var anchor_V: Double?
    /// Isolated outliers seen in the run (a sample far off, the next one back): the instrument spikes, so two
    /// spikes in a row are possible and a fall must outlast them.
    private var spikesSeen = 0
    private var previousStandardised: Double?
    /// The step's latest observed |V|, and snapshots of those before each test's current excursion began: a stop
    /// needs |V| to have fallen below where it was before, not only below an extrapolated trend.
    private var recent = RecentValues(capacity: Self.levelWindow + 1)
    private var beforeLevelExcursion: [Double] = []
    private var levelExcursion = 0
    private var beforeIncrementExcursion: [Double] = []
    private var incrementExcursion = 0
    private var previousTime_s: Double?
    private var interval_s = 1.0
    /// Sample-to-sample changes of |V| in the current step, once it has settled: their median is the local slope
    /// and their spread about it the white noise, whatever the model's lag.
    private var increments = RobustScale(capacity: 31)
    private var previousObserved_V: Double?
    private var incrementSum = 0.0
    private var incrementRun = 0
    /// What the criterion made of the latest watched sample, for status displays and diagnostics.
    public private(set) var latest: Diagnostics?

    /// The criterion's view of one sample: prediction, spread, allowance and both sums.
    public struct Diagnostics: Sendable, Hashable {
        public var time_s: Double
        public var observed_V: Double
        public var expected_V: Double
        public var spread_V: Double
        public var allowance_V: Double
        public var cusum: Double
        public var incrementSum: Double
        public var judged: Bool
        /// The noise estimate and the bank's disagreement about this sample, the two parts of the spread.
        public var noise_V = 0.0
        public var disagreement_V = 0.0
    }

    public init(settings: Settings) {
        self.settings = settings
        scores = [Double](repeating: 0, count: Self.transientPairs.count)
    }

    public mutating func stepStarted(_ context: StepContext) {
        watching = settings.during.watches(context.step)
        cusum = 0
        consecutiveBelow = 0
        lastZeroTime_s = context.startTime_s
        incrementStartTime_s = context.startTime_s
        anchor_V = nil
        previousStandardised = nil
        recent.removeAll()
        beforeLevelExcursion.removeAll()
        levelExcursion = 0
        beforeIncrementExcursion.removeAll()
        incrementExcursion = 0
        previousTime_s = context.startTime_s
        increments.removeAll()
        previousObserved_V = nil
        incrementSum = 0
        incrementRun = 0
        guard watching else { return }
        watchedSteps += 1
        let memory = effectiveMemory_s
        models = Self.transientPairs.map {
            var model = TransientTrendModel(tauFast_s: $0.fast, tauSlow_s: $0.slow, trendScale_s: memory)
            model.reset(stepStart_s: context.startTime_s)
            return model
        }
    }

    /// Step time after which the model is judged even while its own uncertainty is above the noise, and the
    /// sample-to-sample changes are collected.
    static let settle_s = 30.0
    /// Step time before the level test judges the run's first watched step.
    static let firstStepSettle_s = 60.0
    /// Increment test: allowance and threshold in units of the increments' spread, and the falls in a row needed.
    static let incrementAllowance = 4.0
    static let incrementThreshold = 24.0
    static let incrementRunNeeded = 3
    /// Samples in a row below the allowance the level test needs: two, or three once the run has shown an isolated
    /// spike (two spikes in a row then become possible and clip to the threshold together).
    var confirmationsNeeded: Int { spikesSeen > 0 ? 3 : 2 }
    /// Most samples on either side of an excursion's start compared by ``fellBelowEarlierLevel(before:excursion:by:)``.
    static let levelWindow = 32

    /// Whether |V| now lies below its level before an excursion began by more than `margin`: the median of the
    /// latest k samples against that of the k samples before the excursion, k as many as both sides have (at most
    /// ``levelWindow``). A rise that levels off is below its extrapolation but not below where it was.
    private func fellBelowEarlierLevel(before: [Double], excursion: Int, by margin: Double) -> Bool {
        let count = min(before.count, excursion, Self.levelWindow)
        guard count > 0 else { return true }
        return median(before.suffix(count)) - median(recent.latest(count)) > margin
    }

    private func median(_ values: some Collection<Double>) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The increment test, for fine sampling where the model's lag can exceed the fall of one sample: once the step
    /// has settled, a CUSUM of how far each change of |V| falls below the median change of the step, in units of
    /// the changes' own spread. One change adds at most half the threshold and the last three must all be falls,
    /// so neither a single-sample spike (a fall and a rise) nor two downward spikes in a row trip it.
    private mutating func judgeIncrement(_ observed: Double, time_s: Double, context: StepContext) -> Bool {
        defer { previousObserved_V = observed }
        // The sum is zero while the test does not judge, so a fall it finds later began after this sample.
        guard let previous = previousObserved_V, watchedSteps > 1, context.elapsed_s >= Self.settle_s else {
            incrementStartTime_s = time_s
            return false
        }
        let change = observed - previous
        defer { increments.add(change) }
        guard increments.count == increments.capacity, let slope = increments.median,
            let spread = increments.standardDeviation
        else {
            incrementStartTime_s = time_s
            return false
        }
        let scale = max(spread, settings.noiseFloor_V)
        let fall = (slope - change) / scale - Self.incrementAllowance
        incrementRun = fall > 0 ? incrementRun + 1 : 0
        let wasZero = incrementSum == 0
        incrementSum = max(0, incrementSum + min(fall, Self.incrementThreshold / 2))
        if incrementSum == 0 {
            incrementStartTime_s = time_s
            incrementExcursion = 0
        } else {
            if wasZero { beforeIncrementExcursion = recent.latest(Self.levelWindow, skipping: 1) }
            incrementExcursion += 1
        }
        return incrementSum >= Self.incrementThreshold && incrementRun >= Self.incrementRunNeeded
    }

    private var effectiveMemory_s: Double { max(settings.memory_s, 20 * interval_s) }

    public mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        guard watching else { return nil }
        if let previousTime_s, sample.time_s > previousTime_s { interval_s = sample.time_s - previousTime_s }
        previousTime_s = sample.time_s
        let observed = abs(sample.voltage_V)
        recent.add(observed)
        let floor = settings.noiseFloor_V
        let knownNoise = noise.scaleAboutZero
        let noiseLevel = max(floor, knownNoise ?? floor)
        let memory = effectiveMemory_s

        // Every model predicts and learns (a clipped amount when the sample is far off); where all are determined,
        // each is scored on how well it predicted, and the best so far in the run is the one judged by.
        let active = scores.indices.min { scores[$0] < scores[$1] }!
        let predictions = models.map { $0.predict(at: sample.time_s) }
        let comparable = predictions.allSatisfy { $0 != nil && $0!.leverage < 1 }
        // Judge once the noise is known and either the model is determined (its own uncertainty below the noise) or
        // the step's first seconds are past: the spread then carries the model's uncertainty, so coarse sampling
        // need not wait for many samples.
        // In the run's first watched step the time constants are not yet chosen on an earlier step, so the level
        // test waits until the step's transients are long gone.
        let determined =
            predictions[active].map { prediction in
                watchedSteps > 1
                    ? prediction.leverage <= 1 || context.elapsed_s >= Self.settle_s
                    : prediction.leverage <= 1 && context.elapsed_s >= Self.firstStepSettle_s
            } ?? false
        // Where the bank's plausible models (the best-scoring half) disagree about the next sample (a model
        // extrapolating the step's start badly), the spread of their predictions about the active one is uncertainty
        // too: it widens the clip, so the active model can follow the data back, and the allowance, so its
        // extrapolation is not taken for a fall.
        let disagreement_V =
            predictions[active].map { activeValue in
                let plausible = scores.indices.sorted { scores[$0] < scores[$1] }.prefix(Self.plausibleModels)
                let sorted = plausible.compactMap { predictions[$0].map { abs($0.value - activeValue.value) } }.sorted()
                return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
            } ?? 0
        for index in models.indices {
            var taught = observed
            if let prediction = predictions[index] {
                let spread = noiseLevel * (1 + prediction.leverage).squareRoot()
                let standardised = (observed - prediction.value) / spread
                if comparable { scores[index] += min(standardised * standardised, 36) }
                let limit = Self.teachingClip * (spread * spread + disagreement_V * disagreement_V).squareRoot()
                taught = prediction.value + min(max(observed - prediction.value, -limit), limit)
            }
            models[index].add(time_s: sample.time_s, value: taught, memory_s: memory)
        }
        let activePrediction = predictions[active]
        guard let prediction = activePrediction else {
            _ = judgeIncrement(observed, time_s: sample.time_s, context: context)
            return nil
        }
        let modelSpread = noiseLevel * (1 + prediction.leverage).squareRoot()
        let spread = (modelSpread * modelSpread + disagreement_V * disagreement_V).squareRoot()
        let allowance_V = max(Self.allowance * spread, settings.minimumDrop_V / 2)
        // A fall is judged against the prediction, or against the prediction before the sum started if that is
        // lower: |V| levelling off under a rising trend (voiding of the other electrode reaching its limit) is not a
        // fall, however far the trend's extrapolation runs ahead.
        let expected_V = cusum > 0 ? min(prediction.value, anchor_V ?? prediction.value) : prediction.value
        let residual = observed - expected_V
        // The increment test counts only while |V| is below the level model's prediction by more than the
        // allowance: the return of an upward excursion (two spikes in a row) is a fall in the increments but not a
        // shortfall.
        let incrementTripped =
            judgeIncrement(observed, time_s: sample.time_s, context: context) && -residual > allowance_V
            && fellBelowEarlierLevel(before: beforeIncrementExcursion, excursion: incrementExcursion, by: allowance_V)
        // Once the step has settled the noise estimate does not learn the samples that are building up a
        // shortfall, or a slow fall would inflate it and hide itself; earlier, the misfit of the step's start counts
        // as noise.
        let modelResidual = observed - prediction.value
        if cusum == 0 || -residual <= allowance_V || context.elapsed_s < Self.settle_s {
            noise.add(modelResidual / (1 + prediction.leverage).squareRoot())
        }
        latest = Diagnostics(
            time_s: sample.time_s, observed_V: observed, expected_V: expected_V, spread_V: spread,
            allowance_V: allowance_V, cusum: cusum, incrementSum: incrementSum, judged: false, noise_V: noiseLevel,
            disagreement_V: disagreement_V)
        guard knownNoise != nil, determined || incrementTripped else {
            // Not yet judged: the sum is zero here, so a fall found later began after this sample.
            if cusum == 0 {
                anchor_V = prediction.value
                lastZeroTime_s = sample.time_s
            }
            return nil
        }

        // An isolated outlier (far off, the next sample back within the teaching clip) once the step has settled
        // is a spike of the instrument.
        let standardised = modelResidual / spread
        if context.elapsed_s >= Self.settle_s, let previous = previousStandardised, abs(previous) > Self.clip,
            abs(standardised) < Self.teachingClip
        {
            spikesSeen += 1
        }
        previousStandardised = standardised

        let shortfall = -residual - allowance_V
        consecutiveBelow = shortfall > 0 ? consecutiveBelow + 1 : 0
        let wasZero = cusum == 0
        cusum = max(0, cusum + min(max(shortfall / spread, -Self.clip), Self.clip))
        if cusum == 0 {
            lastZeroTime_s = sample.time_s
            anchor_V = prediction.value
            levelExcursion = 0
        } else {
            if wasZero { beforeLevelExcursion = recent.latest(Self.levelWindow, skipping: 1) }
            levelExcursion += 1
        }
        latest?.cusum = cusum
        latest?.judged = true
        let levelTripped =
            cusum >= Self.threshold && consecutiveBelow >= confirmationsNeeded
            && fellBelowEarlierLevel(before: beforeLevelExcursion, excursion: levelExcursion, by: allowance_V)
        guard levelTripped || incrementTripped else { return nil }

        let model = models[active]
        let trend = model.levelAndSlope
        let byIncrements = incrementTripped && !levelTripped
        let onset = (byIncrements ? incrementStartTime_s : lastZeroTime_s) ?? context.startTime_s
        var evidence: [String: Double] = [
            "voltage_V": sample.voltage_V, "expected_V": expected_V, "residual_V": residual,
            "predicted_V": prediction.value, "spikes_seen": Double(spikesSeen),
            "noise_V": noiseLevel, "cusum": cusum, "threshold": Self.threshold, "allowance_V": allowance_V,
            "leverage": prediction.leverage, "tau_fast_s": model.tauFast_s, "tau_slow_s": model.tauSlow_s,
            "min_drop_V": settings.minimumDrop_V, "memory_s": memory, "noise_floor_V": settings.noiseFloor_V,
            "step_samples": Double(context.sampleCount), "onset_time_s": onset, "increment_sum": incrementSum,
            "increment_threshold": Self.incrementThreshold, "test": byIncrements ? 2 : 1,
        ]
        if let trend {
            evidence["level_V"] = trend.level
            evidence["slope_V_per_s"] = trend.slope_per_s
        }
        return Verdict(
            criterion: name, action: .stop,
            reason: "|V| fell \(formatNumber(-residual * 1e3, significantDigits: 3)) mV below the expected "
                + "\(formatNumber(expected_V * 1e3, significantDigits: 4)) mV ("
                + (byIncrements
                    ? "consecutive falls far beyond the step's sample-to-sample noise, sum "
                        + "\(formatNumber(incrementSum, significantDigits: 3)) >= \(formatNumber(Self.incrementThreshold))"
                    : "CUSUM \(formatNumber(cusum, significantDigits: 3)) >= \(formatNumber(Self.threshold)) at noise "
                        + "\(formatNumber(noiseLevel * 1e6, significantDigits: 3)) uV")
                + ") during a \(context.step.kind.rawValue) step at "
                + "\(formatNumber(context.step.currentDensity_mA_cm2)) mA/cm2",
            time_s: sample.time_s, onsetTime_s: onset, currentDensity_mA_cm2: context.step.currentDensity_mA_cm2,
            evidence: evidence)
    }
}
