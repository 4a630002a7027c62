import Domain

/// Voiding of a stripped electrode, from the polarisation of stripping steps (WE-RE in a three-electrode cell,
/// else the cell voltage).
///
/// Three measures, each enough for a verdict (one per step, carrying all three):
/// - **rise**: within the step, the (median-smoothed) polarisation has risen above its lowest value after `settle`
///   by `rise`, or has doubled if that is less (a cell polarised by a few mV voids with a rise of a few mV), and in
///   any case by `min-rise` and ten times the samples' noise; and it is still rising at least as fast as it did
///   earlier in the rise (no sign of levelling off, as a relaxation would);
/// - **growth**: it exceeds the mean end-of-strip polarisation of the first two strips at the same current density
///   by `growth` (interface degrading cycle over cycle);
/// - **time left**: the recent trend reaches the voltage limit within `horizon`, before the step would end; the
///   polarisation must have risen by that floor and the trend must stand out from the scatter about it, so
///   a slope fitted to noise over a few samples is not taken for one.
public struct VoidingCriterion: StopCriterion {
    /// The parameters a protocol gives.
    public struct Settings: Sendable, Hashable {
        public var during: StrippingWatch
        public var action: VerdictAction
        public var rise_V: Double
        /// Smallest rise that counts, above the wander of the reference and the instrument.
        public var minimumRise_V: Double
        public var growth_V: Double
        /// 0 disables the time-left test.
        public var horizon_s: Double
        public var settle_s: Double
        /// Voltage limit for the time-left test; nil takes the step's.
        public var limit_V: Double?

        public init(
            during: StrippingWatch, action: VerdictAction, rise_V: Double, minimumRise_V: Double = 0.003,
            growth_V: Double, horizon_s: Double, settle_s: Double, limit_V: Double?
        ) {
            self.during = during
            self.action = action
            self.rise_V = rise_V
            self.minimumRise_V = minimumRise_V
            self.growth_V = growth_V
            self.horizon_s = horizon_s
            self.settle_s = settle_s
            self.limit_V = limit_V
        }
    }

    /// Which measure found the voiding, as stored in the evidence (`test`).
    public enum Test: Int, Sendable {
        case rise = 1
        case growth = 2
        case timeLeft = 3
    }

    public let name = "voiding"
    public let detectsShort = false
    public let settings: Settings

    private var watching = false
    private var reported = false
    private var warnedInStep = false
    private var recent: [Double] = []
    private var history = DecimatedHistory(capacity: 256)
    private var baseline: (value_V: Double, time_s: Double)?
    private var latestSmoothed_V: Double?
    /// Changes of the raw polarisation from sample to sample in this step: their spread gives the noise.
    private var changes = RobustScale(capacity: 63)
    private var previous_V: Double?
    /// A rise by this fraction of the step's lowest settled polarisation is enough when less than `rise`.
    static let relativeRise = 1.0
    /// A rise must exceed this many times the noise of one sample.
    static let noiseFactor = 10.0
    /// The trend of the time-left test must exceed this many standard errors.
    static let slopeSignificance = 4.0
    private var stepDensity_mA_cm2 = 0.0
    /// End-of-strip polarisation of the watched steps so far, by current density.
    private var endOfStrip: [(density_mA_cm2: Double, value_V: Double)] = []

    public init(settings: Settings) {
        self.settings = settings
    }

    public mutating func stepStarted(_ context: StepContext) {
        if watching, let latestSmoothed_V { endOfStrip.append((stepDensity_mA_cm2, latestSmoothed_V)) }
        watching = settings.during.watches(context.step)
        reported = false
        warnedInStep = false
        recent.removeAll(keepingCapacity: true)
        history.removeAll()
        baseline = nil
        latestSmoothed_V = nil
        changes.removeAll()
        previous_V = nil
        stepDensity_mA_cm2 = context.step.currentDensity_mA_cm2
    }

    public mutating func stepResumed(_ context: StepContext) {
        recent.removeAll(keepingCapacity: true)
        previous_V = nil
    }

    /// Mean end-of-strip polarisation of the first two completed strips at this current density.
    private func referenceEndOfStrip(density_mA_cm2: Double) -> Double? {
        let same = endOfStrip.filter { abs($0.density_mA_cm2 - density_mA_cm2) <= 1e-6 * max(1, density_mA_cm2) }
        guard same.count >= 2 else { return nil }
        return (same[0].value_V + same[1].value_V) / 2
    }

    public mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        guard watching else { return nil }
        let raw = abs(context.controlledVoltage(sample))
        guard raw.isFinite, sample.time_s.isFinite else {
            guard !warnedInStep else { return nil }
            warnedInStep = true
            return Verdict(
                criterion: name, action: .warn,
                reason: "a sample with a non-finite time or voltage was not judged (step \(context.step.index))",
                time_s: sample.time_s.isFinite ? sample.time_s : context.startTime_s,
                currentDensity_mA_cm2: context.step.currentDensity_mA_cm2)
        }
        if let previous_V { changes.add(raw - previous_V) }
        previous_V = raw
        recent.append(raw)
        if recent.count > 5 { recent.removeFirst() }
        let smoothed = recent.sorted()[recent.count / 2]
        latestSmoothed_V = smoothed
        guard context.elapsed_s >= settings.settle_s, recent.count >= 3 else { return nil }
        history.append(time_s: sample.time_s, value: smoothed)
        if baseline == nil || smoothed < baseline!.value_V { baseline = (smoothed, sample.time_s) }
        guard !reported, let baseline else { return nil }

        let rise = smoothed - baseline.value_V
        let reference = referenceEndOfStrip(density_mA_cm2: context.step.currentDensity_mA_cm2)
        let growth = reference.map { smoothed - $0 }
        let since = history.points(after: baseline.time_s)
        let thirds = since.count / 3
        var earlySlope: Double?
        var recentSlope: Double?
        var recentSlopeError = Double.infinity
        if thirds >= 2 {
            earlySlope = slope(since.prefix(thirds)).value
            (recentSlope, recentSlopeError) = slope(since.suffix(thirds))
        }
        // The noise of one raw sample; the rise must stand out from it whatever the thresholds (unknown: nothing
        // stands out yet).
        let noise_V = (changes.standardDeviation ?? .infinity) / 2.squareRoot()
        let noiseFloor_V = max(settings.minimumRise_V, Self.noiseFactor * noise_V)
        let riseThreshold_V = max(min(settings.rise_V, Self.relativeRise * baseline.value_V), noiseFloor_V)
        var timeLeft_s: Double?
        if let recentSlope, recentSlope > Self.slopeSignificance * recentSlopeError, rise >= noiseFloor_V,
            let limit = settings.limit_V ?? context.step.voltageLimit_V, settings.horizon_s > 0
        {
            timeLeft_s = max(0, (limit - smoothed) / recentSlope)
        }

        var test: Test?
        if rise >= riseThreshold_V, let earlySlope, let recentSlope, recentSlope > 0, recentSlope >= 0.8 * earlySlope {
            test = .rise
        } else if let growth, growth >= settings.growth_V {
            test = .growth
        } else if let timeLeft_s, timeLeft_s < settings.horizon_s, timeLeft_s < remainingTime_s(context) {
            test = .timeLeft
        }
        guard let test else { return nil }
        reported = true

        var evidence: [String: Double] = [
            "test": Double(test.rawValue), "polarisation_V": smoothed, "baseline_V": baseline.value_V,
            "baseline_time_s": baseline.time_s, "rise_V": rise,
            "relative_rise": Self.relativeRise, "min_rise_V": settings.minimumRise_V,
            "growth_threshold_V": settings.growth_V, "horizon_s": settings.horizon_s, "settle_s": settings.settle_s,
            "cycle": Double(context.step.cycle),
        ]
        // Only what is known goes into the evidence: with few samples the noise and slopes are not.
        if noise_V.isFinite { evidence["noise_V"] = noise_V }
        if riseThreshold_V.isFinite { evidence["rise_threshold_V"] = riseThreshold_V }
        if let earlySlope, earlySlope.isFinite { evidence["slope_early_V_per_s"] = earlySlope }
        if let recentSlope, recentSlope.isFinite { evidence["slope_recent_V_per_s"] = recentSlope }
        if let reference, let growth {
            evidence["reference_end_of_strip_V"] = reference
            evidence["growth_V"] = growth
        }
        if let timeLeft_s { evidence["time_to_limit_s"] = timeLeft_s }
        let what: String
        switch test {
        case .rise:
            what = "rose \(millivolts(rise)) mV within the step, still accelerating"
        case .growth:
            what =
                "is \(millivolts(growth ?? 0)) mV above the first strips' end value of \(millivolts(reference ?? 0)) mV"
        case .timeLeft:
            what = "will reach the voltage limit in about \(formatNumber(timeLeft_s ?? 0, significantDigits: 3)) s"
        }
        return Verdict(
            criterion: name, action: settings.action,
            reason: "stripping polarisation \(millivolts(smoothed)) mV \(what) (cycle \(context.step.cycle), "
                + "\(formatNumber(context.step.currentDensity_mA_cm2)) mA/cm2): voiding",
            time_s: sample.time_s, onsetTime_s: baseline.time_s,
            currentDensity_mA_cm2: context.step.currentDensity_mA_cm2, evidence: evidence)
    }

    private func remainingTime_s(_ context: StepContext) -> Double {
        var remaining = Double.infinity
        if let limit = context.step.capacityLimit_C, context.step.current_A != 0 {
            remaining = min(remaining, (limit - context.charge_C) / abs(context.step.current_A))
        }
        if let duration = context.step.durationLimit_s { remaining = min(remaining, duration - context.elapsed_s) }
        return remaining
    }

    private func millivolts(_ volts: Double) -> String { formatNumber(volts * 1e3, significantDigits: 4) }

    /// Least-squares slope of points, volts per second, and its standard error (infinite with fewer than three).
    private func slope(_ points: ArraySlice<(time_s: Double, value: Double)>) -> (value: Double, error: Double) {
        let count = Double(points.count)
        let meanTime = points.reduce(0) { $0 + $1.time_s } / count
        let meanValue = points.reduce(0) { $0 + $1.value } / count
        var covariance = 0.0
        var variance = 0.0
        for point in points {
            covariance += (point.time_s - meanTime) * (point.value - meanValue)
            variance += (point.time_s - meanTime) * (point.time_s - meanTime)
        }
        guard variance > 0 else { return (0, .infinity) }
        let fitted = covariance / variance
        guard points.count > 2 else { return (fitted, .infinity) }
        var squares = 0.0
        for point in points {
            let residual = point.value - meanValue - fitted * (point.time_s - meanTime)
            squares += residual * residual
        }
        return (fitted, (squares / (count - 2) / variance).squareRoot())
    }
}

/// A bounded record of a step's smoothed polarisation: when full, every other point is dropped and only every
/// second later point is kept, so it always spans the whole step with at most `capacity` points.
struct DecimatedHistory: Sendable {
    let capacity: Int
    private var stored: [(time_s: Double, value: Double)] = []
    private var stride = 1
    private var skipped = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    mutating func removeAll() {
        stored.removeAll(keepingCapacity: true)
        stride = 1
        skipped = 0
    }

    mutating func append(time_s: Double, value: Double) {
        skipped += 1
        guard skipped >= stride else { return }
        skipped = 0
        stored.append((time_s, value))
        if stored.count >= capacity {
            stored = stored.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
            stride *= 2
        }
    }

    func points(after time_s: Double) -> ArraySlice<(time_s: Double, value: Double)> {
        let start = stored.firstIndex { $0.time_s >= time_s } ?? stored.endIndex
        return stored[start...]
    }
}
