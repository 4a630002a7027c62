import Domain
import Foundation

/// Dendrite short while plating, found by six tests on |V| of every watched step; any one stops the run.
///
/// - **level**: a bank of ``TransientTrendModel``s (level, trend and two decaying transients with time constants from
///   0.5 s to 32 s) predicts the next |V|; the model in use is the one that has predicted best so far in the run. The
///   shortfall of each sample below the prediction, less an allowance, is standardised by a robust noise estimate
///   (floored at the reading's resolution) and the prediction's own uncertainty and summed in a one-sided CUSUM. It
///   trips on the second (or later) consecutive sample below the allowance, the third once the run has shown an
///   isolated spike, and only when |V| also lies below its level before the shortfall began: a rise that levels off
///   falls short of its extrapolation but is not a fall. Samples far off teach the models only a clipped amount.
/// - **increment**: at fine sampling, a CUSUM of how far each change of |V| falls below the step's median change, in
///   units of the changes' spread, with three falls in a row.
/// - **total fall**: once the step has settled (``SettledLevel``), |V| has lost ``ShortDetectionTuning/totalFall``
///   of the settled level and far more than its wander, so a collapse towards 0 V is found however slowly it comes.
/// - **drops**: repeated drops far below the prediction with no upward excursion among them, after which |V| has not
///   come back to its level before the first (a soft short's drops and partial recoveries).
///
/// Sampled every ``ShortDetectionTuning/aggregationWindow_s``/4 or faster, a second instance of the criterion judges
/// means over windows of ``ShortDetectionTuning/aggregationWindow_s`` (so 0.1 s sampling is judged as 1 s sampling is,
/// besides its own samples); the drops and one-sided noise tests then judge only the means, and the level test on
/// single samples needs a fall of ``ShortDetectionTuning/fineLevelFall``. The first watched step in each direction
/// (the electrode's first nucleation) is judged only once it has settled. No test judges a step before it has
/// ``ShortDetectionTuning/minimumStepSamples`` samples. The onset is where the
/// tripping test's evidence began; the CCD is the step's current density. Constants are in
/// ``ShortDetectionTuning``.
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
        /// The galvanostat's reading resolution, volts, when the driver knows it; inferred from the data otherwise.
        public var voltageResolution_V: Double?

        public init(
            during: PlatingWatch, minimumDrop_V: Double, memory_s: Double, noiseFloor_V: Double,
            voltageResolution_V: Double? = nil
        ) {
            self.during = during
            self.minimumDrop_V = minimumDrop_V
            self.memory_s = memory_s
            self.noiseFloor_V = noiseFloor_V
            self.voltageResolution_V = voltageResolution_V
        }
    }

    /// Which test stopped the run, as stored in the evidence (`test`).
    public enum Test: Int, Sendable {
        case level = 1
        case increment = 2
        case totalFall = 3
        case drops = 4
        case oneSidedNoise = 5
        case noiseJump = 6
    }

    public let name = "dendrite-short"
    public let detectsShort = true
    public let settings: Settings
    public let tuning: ShortDetectionTuning

    private var bank = TransientModelBank()
    private var scores: [Double]
    private var ranking: [Int]
    private var predictedValue: [Double]
    private var predictedLeverage: [Double]
    private var hasPrediction: [Bool]
    private var noise = RobustScale(capacity: 31)
    private var slowNoise = SlowNoise()
    private var resolution: ReadingResolution
    private var level: SettledLevel
    private var watching = false
    private var cusum = 0.0
    private var consecutiveBelow = 0
    private var watchedSteps = 0
    private var lastZeroTime_s: Double?
    /// The prediction at the last sample the sum was zero after: a fall is judged against the lower of it and the
    /// current prediction, so a rise that levels off (a plateau under a rising trend) is not a fall.
    private var anchor_V: Double?
    /// Isolated outliers seen in the run (a sample far off, the next one back): the instrument spikes, so two
    /// spikes in a row are possible and a fall must outlast them.
    private var spikesSeen = 0
    private var previousStandardised: Double?
    /// The step's latest |V|, and snapshots of those before each test's excursion began: a stop needs |V| to have
    /// fallen below where it was before, not only below an extrapolated trend.
    private var recent: RecentValues
    private var beforeLevelExcursion: [Double] = []
    /// The latest standardised residuals against the active model (judged or not), and their median over the
    /// ``ShortDetectionTuning/levelWindow`` samples before the level test's excursion began: a level-test stop needs
    /// the models to have followed |V| before it (a model lagging a slow relaxation misses on one side all along).
    private var recentResiduals: RecentValues
    private var residualBeforeExcursion = 0.0
    private var levelExcursion = 0
    private var previousTime_s: Double?
    private var interval_s = 1.0
    private var increments: IncrementTest
    private var drops: DropTest
    private var oneSided = OneSidedNoise()
    private var totalFallRun = 0
    /// Settled |V| at the end of earlier watched steps, with their current density and direction.
    private var settledEnds: [(density_mA_cm2: Double, platesWE: Bool, level_V: Double, whiteNoise_V: Double?)] = []
    private var stepDensity_mA_cm2 = 0.0
    private var stepPlatesWE = true
    private var crossReference_V: Double?
    /// The white noise at the end of that step, and samples in a row the noise-jump test has held.
    private var crossWhiteNoise_V: Double?
    private var noiseJumpRun = 0
    private var stepElapsed_s = 0.0
    private var samplesSinceFarAbove = Int.max / 2
    private var warnedInStep = false
    /// Watched steps seen so far in each direction (plating the WE, stripping it): the first in each direction is
    /// where the electrode's first nucleation and the longest relaxations are.
    private var stepsPlatingWE = 0
    private var stepsStrippingWE = 0
    private var firstInDirection = true
    /// At fine sampling, the same tests judged on means over windows of about
    /// ``ShortDetectionTuning/aggregationWindow_s`` (at most one element; empty in the windowed criterion itself).
    private var windowed: [DendriteShortCriterion] = []
    private var windowMean = WindowMean()
    /// Whether this criterion judges window means for an outer one (it then keeps no windowed criterion itself).
    private let judgesWindows: Bool
    /// The outer criterion's reading resolution, which the windowed one assumes: a mean of readings a step apart is
    /// not read finer than they are.
    private var outerResolution_V: Double?
    /// What the criterion made of the latest watched sample, for status displays and diagnostics.
    public private(set) var latest: Diagnostics?

    /// The criterion's view of one sample: prediction, spread, allowance and the tests' sums.
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
        public var resolution_V = 0.0
        /// The settled level and the share of it lost, once the step has settled.
        public var settled_V: Double?
        public var fall = 0.0
    }

    public init(settings: Settings, tuning: ShortDetectionTuning = .standard) {
        self.init(settings: settings, tuning: tuning, judgesWindows: false)
    }

    private init(settings: Settings, tuning: ShortDetectionTuning, judgesWindows: Bool) {
        self.settings = settings
        self.tuning = tuning
        self.judgesWindows = judgesWindows
        let models = TransientModelBank.pairs.count
        scores = [Double](repeating: 0, count: models)
        ranking = Array(0..<models)
        predictedValue = [Double](repeating: 0, count: models)
        predictedLeverage = [Double](repeating: 0, count: models)
        hasPrediction = [Bool](repeating: false, count: models)
        resolution = ReadingResolution(given_V: settings.voltageResolution_V)
        level = SettledLevel(tuning: tuning)
        recent = RecentValues(capacity: tuning.levelWindow + 1)
        recentResiduals = RecentValues(capacity: tuning.levelWindow + 1)
        increments = IncrementTest(tuning: tuning)
        drops = DropTest(tuning: tuning)
        if !judgesWindows {
            windowed = [DendriteShortCriterion(settings: settings, tuning: tuning, judgesWindows: true)]
        }
    }

    public mutating func stepStarted(_ context: StepContext) {
        // A step that did not settle (too short for its noise or resolution to show a rate) lends the median of its
        // last samples, once it has run as long as a step must before it can settle.
        if watching,
            let end = level.isSettled
                ? level.reference_V
                : stepElapsed_s >= tuning.minimumSettling_s && recent.count >= tuning.minimumStepSamples
                    ? median(recent.latest(tuning.levelWindow)) : nil
        {
            settledEnds.append((stepDensity_mA_cm2, stepPlatesWE, end, level.whiteNoise_V))
            if settledEnds.count > 8 { settledEnds.removeFirst() }
        }
        stepElapsed_s = 0
        stepDensity_mA_cm2 = context.step.currentDensity_mA_cm2
        stepPlatesWE = context.step.current_A < 0
        // The latest settled end of a step at a similar current in the same direction: a step that starts already
        // collapsed (a short that began while it was not watched, or before it settled) is judged against it.
        let factor = tuning.referenceCurrentFactor
        let similar = settledEnds.last {
            $0.platesWE == stepPlatesWE && $0.density_mA_cm2 <= stepDensity_mA_cm2 * factor
                && $0.density_mA_cm2 * factor >= stepDensity_mA_cm2
        }
        crossReference_V = similar?.level_V
        crossWhiteNoise_V = similar?.whiteNoise_V
        noiseJumpRun = 0
        watching = settings.during.watches(context.step)
        cusum = 0
        consecutiveBelow = 0
        lastZeroTime_s = context.startTime_s
        anchor_V = nil
        previousStandardised = nil
        recent.removeAll()
        beforeLevelExcursion.removeAll()
        recentResiduals.removeAll()
        residualBeforeExcursion = 0
        levelExcursion = 0
        previousTime_s = context.startTime_s
        increments.reset(at: context.startTime_s)
        drops.reset()
        oneSided.reset()
        totalFallRun = 0
        heldInARow = 0
        samplesSinceFarAbove = Int.max / 2
        previousBelow_V = nil
        warnedInStep = false
        resolution.stepStarted()
        level.reset(stepStart_s: context.startTime_s)
        stepStart_s = context.startTime_s
        guard watching else { return }
        watchedSteps += 1
        if stepPlatesWE { stepsPlatingWE += 1 } else { stepsStrippingWE += 1 }
        firstInDirection = (stepPlatesWE ? stepsPlatingWE : stepsStrippingWE) == 1
        increments.pastFirstStep = !firstInDirection
        windowMean.reset()
        for index in windowed.indices { windowed[index].stepStarted(context) }
        bank.reset(stepStart_s: context.startTime_s, trendScale_s: effectiveMemory_s)
    }

    private var effectiveMemory_s: Double { max(settings.memory_s, 20 * interval_s) }

    /// Samples in a row below the allowance the level test needs.
    var confirmationsNeeded: Int { tuning.confirmations + (spikesSeen > 0 ? 1 : 0) }

    public mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        guard watching else { return nil }
        guard sample.voltage_V.isFinite, sample.time_s.isFinite else { return cannotJudge(sample, context: context) }
        if let previousTime_s, sample.time_s > previousTime_s { interval_s = sample.time_s - previousTime_s }
        previousTime_s = sample.time_s
        stepElapsed_s = context.elapsed_s
        let observed = abs(sample.voltage_V)
        resolution.add(sample.voltage_V)
        let step_V = outerResolution_V ?? resolution.value_V
        let fine = !judgesWindows && interval_s * 4 <= tuning.aggregationWindow_s
        let windowVerdict = fine ? judgeWindow(sample, context: context, resolution_V: step_V) : nil
        let floor = max(settings.noiseFloor_V, tuning.resolutionNoiseShare * step_V)
        recent.add(observed)
        level.add(time_s: sample.time_s, magnitude: observed, interval_s: interval_s, resolution_V: step_V)
        let minimumFall_V = max(
            settings.minimumDrop_V, tuning.resolutionSteps * step_V,
            (judgesWindows ? tuning.windowedMinimumFall : tuning.relativeMinimumFall) * (level.smoothed_V ?? observed))
        // The noise is the residuals' robust spread (a model's lag in a transient counts), but at most a few times
        // the white noise of the sample-to-sample changes: a steady fall that the models lag behind is a fall, not
        // noise.
        let residualNoise = noise.scaleAboutZero
        var knownNoise = residualNoise
        if let residualNoise, let white = level.whiteNoise_V {
            knownNoise = min(residualNoise, tuning.lagNoiseCap * max(white, floor))
        }
        let noiseLevel = max(floor, knownNoise ?? floor)
        // The models are taught with the residuals' own spread, lag included, so they can follow a transient back.
        let teachingNoise = max(floor, residualNoise ?? floor)
        let enoughSamples = context.sampleCount >= tuning.minimumStepSamples

        let (prediction, disagreement_V) = predictAndTeach(observed, at: sample.time_s, noiseLevel: teachingNoise)
        guard let prediction else {
            _ = increments.judge(observed, time_s: sample.time_s, context: context, floor: floor, recent: recent)
            return windowVerdict
        }
        // Judge once the noise is known and the step's first seconds are past (the spread then carries the models'
        // own uncertainty): a current change's transient (nucleation of hundreds of mV, relaxation) cannot be told
        // from a fall by a model fitted to a few seconds. In the run's first watched step, whose time constants are
        // not yet chosen, only once the model is determined and its first minute is over.
        let determined =
            enoughSamples
            && (firstInDirection
                ? prediction.leverage <= 1 && context.elapsed_s >= tuning.firstStepSettle_s && level.isSettled
                : context.elapsed_s >= (judgesWindows ? tuning.windowedSettle_s : tuning.settle_s))
        let modelSpread = noiseLevel * (1 + prediction.leverage).squareRoot()
        let spread = (modelSpread * modelSpread + disagreement_V * disagreement_V).squareRoot()
        // Coloured noise keeps residuals on one side for many samples: the allowance covers the spread of their
        // block means too, while a fall far beyond it still counts in full (the sum is in spreads).
        let allowance_V = max(
            tuning.allowance * spread, minimumFall_V / 2, tuning.slowNoiseAllowance * (slowNoise.blockSpread_V ?? 0))
        let expected_V = cusum > 0 ? min(prediction.value, anchor_V ?? prediction.value) : prediction.value
        let residual = observed - expected_V
        let incrementTripped =
            increments.judge(observed, time_s: sample.time_s, context: context, floor: floor, recent: recent)
            && enoughSamples && -residual > allowance_V
            && fellBelowEarlierLevel(
                before: increments.beforeExcursion, excursion: increments.excursion, by: max(allowance_V, minimumFall_V)
            )
        // Once the step has settled the noise estimate does not learn the samples that are building up a
        // shortfall, or a slow fall would inflate it and hide itself; earlier, the misfit of the step's start counts.
        let modelResidual = observed - prediction.value
        if cusum == 0 || -residual <= allowance_V || context.elapsed_s < tuning.settle_s {
            noise.add(modelResidual / (1 + prediction.leverage).squareRoot())
            if determined { slowNoise.add(modelResidual) }
        }
        recentResiduals.add(modelResidual / spread)
        latest = Diagnostics(
            time_s: sample.time_s, observed_V: observed, expected_V: expected_V, spread_V: spread,
            allowance_V: allowance_V, cusum: cusum, incrementSum: increments.sum, judged: false, noise_V: noiseLevel,
            disagreement_V: disagreement_V, resolution_V: step_V, settled_V: level.reference_V, fall: level.fall)

        // Total fall from the settled level: needs only the step to have settled. Against an earlier step's settled
        // level, once this step's first seconds are past, the fall must be larger (the start of a step may still lie
        // below its own level, and the two steps' currents differ a little).
        let wander = max(level.wander_V ?? noiseLevel, noiseLevel / 2, floor)
        let significantFall_V = max(tuning.totalFallSignificance * wander, minimumFall_V)
        var totalFallNow =
            enoughSamples && level.isSettled && level.fall >= tuning.totalFall && level.fall_V >= significantFall_V
        if !totalFallNow, enoughSamples, context.elapsed_s >= tuning.settle_s, let reference = crossReference_V,
            let smoothed = level.smoothed_V
        {
            totalFallNow =
                smoothed <= reference * (1 - tuning.crossStepFall) && reference - smoothed >= significantFall_V
        }
        totalFallRun = totalFallNow ? totalFallRun + 1 : 0
        let totalFallTripped = totalFallRun >= 2
        // Noise jump: a contact making and breaking makes |V| flicker from sample to sample far more than the same
        // cell did at the end of an earlier step at a similar current, while |V| lies below that step's end.
        var noiseJumpNow = false
        if !judgesWindows, enoughSamples, context.elapsed_s >= tuning.noiseJumpSettle_s,
            let reference = crossReference_V,
            let before = crossWhiteNoise_V, let white = level.whiteNoise_V
        {
            let latestMean = mean(recent.latest(8))
            noiseJumpNow =
                white >= tuning.noiseJumpFactor * max(before, floor)
                && reference - latestMean >= max(tuning.noiseJumpFall * reference, minimumFall_V)
        }
        noiseJumpRun = noiseJumpNow ? noiseJumpRun + 1 : 0
        let noiseJumpTripped = noiseJumpRun >= tuning.oneSidedSamples

        guard knownNoise != nil, determined || incrementTripped || totalFallTripped || noiseJumpTripped else {
            // Not yet judged: the sum is zero here, so a fall found later began after this sample.
            if cusum == 0 {
                anchor_V = prediction.value
                lastZeroTime_s = sample.time_s
            }
            return windowVerdict
        }

        // An isolated outlier (far off, the next sample back within the teaching clip) once the step has settled
        // is a spike of the instrument.
        let standardised = modelResidual / spread
        if context.elapsed_s >= tuning.settle_s, let previous = previousStandardised, abs(previous) > tuning.clip,
            abs(standardised) < tuning.teachingClip
        {
            spikesSeen += 1
        }
        previousStandardised = standardised
        // A sample far above the prediction is a disturbance of the readings (a short only ever lowers |V|): a fall
        // that began with or right after one is the same disturbance going the other way.
        samplesSinceFarAbove = standardised > tuning.clip ? 0 : samplesSinceFarAbove + 1

        var levelTripped = false
        var dropsTripped = false
        var oneSidedTripped = false
        if determined {
            let shortfall = -residual - allowance_V
            // The samples confirming a fall must show |V| staying down or going further down: a short's fall is
            // steady or deepens, a burst of glitches jumps about.
            if shortfall > 0, consecutiveBelow > 0, let previousBelow_V,
                observed > previousBelow_V + max(2 * spread, tuning.confirmationTolerance * (expected_V - observed))
            {
                consecutiveBelow = 0
            }
            consecutiveBelow = shortfall > 0 ? consecutiveBelow + 1 : 0
            previousBelow_V = shortfall > 0 ? observed : nil
            let wasZero = cusum == 0
            cusum = max(0, cusum + min(max(shortfall / spread, -tuning.clip), tuning.clip))
            if cusum == 0 {
                lastZeroTime_s = sample.time_s
                anchor_V = prediction.value
                levelExcursion = 0
            } else {
                if wasZero {
                    beforeLevelExcursion = recent.latest(tuning.levelWindow, skipping: 1)
                    let prior = recentResiduals.latest(tuning.levelWindow, skipping: 1)
                    residualBeforeExcursion = prior.count >= tuning.minimumStepSamples ? median(prior) : 0
                }
                levelExcursion += 1
            }
            latest?.cusum = cusum
            latest?.judged = true
            levelTripped =
                cusum >= tuning.threshold && consecutiveBelow >= confirmationsNeeded
                && residualBeforeExcursion >= -tuning.allowance && samplesSinceFarAbove > levelExcursion + 1
                && (!fine || expected_V - observed >= tuning.fineLevelFall * expected_V)
                && fellBelowEarlierLevel(
                    before: beforeLevelExcursion, excursion: levelExcursion, by: max(allowance_V, minimumFall_V))
            // An excursion that has lasted this long without tripping is a slow bend of the relaxation (the models'
            // straight-line extrapolation overshooting a turn), not a sudden fall; slow falls are the total-fall
            // test's. The sum starts afresh from here.
            if !levelTripped, levelExcursion >= tuning.levelExcursionLimit {
                cusum = 0
                levelExcursion = 0
                lastZeroTime_s = sample.time_s
                anchor_V = prediction.value
            }
            // The drops must have left |V| (smoothed, so the drops themselves do not count) below the settled
            // level, which follows a healthy relaxation down.
            drops.add(standardised: residual / spread, time_s: sample.time_s)
            dropsTripped =
                !fine && drops.isTripped && level.isSettled
                && level.fall_V >= max(allowance_V, minimumFall_V, tuning.dropFallSignificance * wander)
            // Flicker pulls the mean of the latest samples below the settled level; a trend the models overshoot
            // (a rise that levels off) does not.
            oneSidedTripped =
                !fine
                && oneSided.add(
                    residual, time_s: sample.time_s, ratio: tuning.oneSidedRatio,
                    minimum: max(allowance_V, minimumFall_V), samplesNeeded: tuning.oneSidedSamples)
                && level.isSettled && (level.reference_V ?? 0) - mean(recent.latest(8)) >= minimumFall_V / 2
        }
        let test: Test
        if levelTripped {
            test = .level
        } else if incrementTripped {
            test = .increment
        } else if totalFallTripped {
            test = .totalFall
        } else if dropsTripped {
            test = .drops
        } else if oneSidedTripped {
            test = .oneSidedNoise
        } else if noiseJumpTripped {
            test = .noiseJump
        } else {
            return windowVerdict
        }
        return verdict(
            test, sample: sample, context: context, observed: observed, expected_V: expected_V, prediction: prediction,
            noiseLevel: noiseLevel, allowance_V: allowance_V, resolution_V: step_V)
    }

    /// At fine sampling: adds the sample to the present window and, once it holds
    /// ``ShortDetectionTuning/aggregationWindow_s`` worth of samples, lets the windowed criterion judge their mean.
    /// A 0.1 s run is thereby judged like a 1 s one as well (a slow fall a fraction of the noise per sample stands out
    /// of means; a burst of a few disturbed readings is one low mean, not a tail of low samples). Its stop is this
    /// criterion's, at this sample.
    private mutating func judgeWindow(
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

    /// Every live model predicts and learns (a clipped amount when the sample is far off); while the whole bank is
    /// live and determined, each is scored on how well it predicted. Returns the active model's prediction and the
    /// bank's disagreement about this sample.
    private mutating func predictAndTeach(
        _ observed: Double, at time_s: Double, noiseLevel: Double
    ) -> (prediction: (value: Double, leverage: Double)?, disagreement: Double) {
        bank.prepare(at: time_s)
        var active = 0
        if bank.liveCount == 1 {
            active = bank.isLive.firstIndex(of: true) ?? 0
        } else {
            for index in scores.indices where scores[index] < scores[active] { active = index }
        }
        var comparable = bank.liveCount > 1
        for index in 0..<bank.count {
            if let prediction = bank.predict(index, at: time_s) {
                predictedValue[index] = prediction.value
                predictedLeverage[index] = prediction.leverage
                hasPrediction[index] = true
                if prediction.leverage >= 1 { comparable = false }
            } else {
                hasPrediction[index] = false
                if bank.isLive[index] { comparable = false }
            }
        }
        // The spread of the plausible models' predictions about the active one is uncertainty too: it widens the
        // clip, so the active model can follow the data back, and the allowance, so its extrapolation is not taken
        // for a fall.
        var disagreement_V = 0.0
        if hasPrediction[active], bank.liveCount > 1 {
            rankModels()
            var distances = SmallWindow()
            // Scores say which models are implausible once a watched step has gone by; in the first one all count.
            let plausibleScore =
                watchedSteps > 1
                ? scores[ranking[0]] * tuning.plausibleScoreFactor + tuning.plausibleScoreMargin : .infinity
            for index in ranking.prefix(tuning.plausibleModels)
            where hasPrediction[index] && scores[index] <= plausibleScore {
                distances.push(abs(predictedValue[index] - predictedValue[active]), capacity: 8)
            }
            disagreement_V = distances.upperMedian
        }
        let memory = effectiveMemory_s
        let keep = exp(-max(0, time_s - (previousTeachTime_s ?? time_s)) / memory)
        // A sample far below the active prediction may be the start of a fall: while one is being confirmed (at most
        // `heldSamples` in a row) such samples teach nothing, so the models do not follow the fall they are to find.
        var heldBack = false
        if hasPrediction[active] {
            let spread = noiseLevel * (1 + predictedLeverage[active]).squareRoot()
            let limit = tuning.teachingClip * (spread * spread + disagreement_V * disagreement_V).squareRoot()
            if observed < predictedValue[active] - limit {
                // Once the held samples are spent, the models learn (clipped) until a sample is back near them.
                heldBack = heldInARow < tuning.heldSamples
                heldInARow += 1
            } else {
                heldInARow = 0
            }
        }
        for index in 0..<bank.count where bank.isLive[index] {
            var taught = observed
            if hasPrediction[index] {
                let spread = noiseLevel * (1 + predictedLeverage[index]).squareRoot()
                let standardised = (observed - predictedValue[index]) / spread
                if comparable { scores[index] += min(standardised * standardised, 36) }
                let limit = tuning.teachingClip * (spread * spread + disagreement_V * disagreement_V).squareRoot()
                taught =
                    heldBack
                    ? predictedValue[index]
                    : predictedValue[index] + min(max(observed - predictedValue[index], -limit), limit)
            }
            bank.add(index, time_s: time_s, value: taught, keep: keep)
        }
        bank.finishSample(at: time_s)
        previousTeachTime_s = time_s
        let since = time_s - stepStart_s
        if bank.liveCount > 1, since >= max(tuning.bankHorizon_s, tuning.bankHorizonMemories * memory) {
            bank.keepOnly(active)
        }
        guard hasPrediction[active] else { return (nil, 0) }
        return ((predictedValue[active], predictedLeverage[active]), disagreement_V)
    }

    private var previousTeachTime_s: Double?
    private var stepStart_s = 0.0
    private var heldInARow = 0
    /// |V| of the latest sample below the allowance, while such samples come in a row.
    private var previousBelow_V: Double?

    /// Orders the models by score (best first), in place.
    private mutating func rankModels() {
        for position in 1..<ranking.count {
            let model = ranking[position]
            var slot = position - 1
            while slot >= 0, scores[ranking[slot]] > scores[model] {
                ranking[slot + 1] = ranking[slot]
                slot -= 1
            }
            ranking[slot + 1] = model
        }
    }

    /// Whether |V| now lies below its level before an excursion began by more than `margin`: the median of the
    /// latest k samples against that of the k samples before the excursion, k as many as both sides have (at most
    /// ``ShortDetectionTuning/levelWindow``). A rise that levels off is below its extrapolation but not below where
    /// it was.
    private func fellBelowEarlierLevel(before: [Double], excursion: Int, by margin: Double) -> Bool {
        let count = min(before.count, excursion, tuning.levelWindow)
        guard count > 0 else { return true }
        return median(before.suffix(count)) - median(recent.latest(count)) > margin
    }

    /// A warning, once per step, that a sample could not be judged; the sample changes nothing.
    private mutating func cannotJudge(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        guard !warnedInStep else { return nil }
        warnedInStep = true
        let time_s = sample.time_s.isFinite ? sample.time_s : previousTime_s ?? context.startTime_s
        return Verdict(
            criterion: name, action: .warn,
            reason: "a sample with a non-finite time or voltage was not judged (step \(context.step.index)); later "
                + "samples of the step are judged as usual",
            time_s: time_s, currentDensity_mA_cm2: context.step.currentDensity_mA_cm2)
    }

    // MARK: - The verdict

    private func verdict(
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
                + "times as much from sample to sample as at the end of an earlier step at a similar current, and lies "
                + "below that step's \(millivolts(crossReference_V ?? 0)) mV (now \(millivolts(observed)) mV)"
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
