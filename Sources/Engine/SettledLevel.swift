import Foundation

/// The settled |V| of a step, taken only once the step has settled, and how far |V| has fallen from it since.
///
/// |V| is smoothed by the median of its latest five samples (isolated glitches and pairs vanish). Its rate of change
/// is fitted to block means over the latest ``ShortDetectionTuning/settlingWindow_s`` (or as many samples), its older
/// and newer half separately. The step counts as settled once it has run at least
/// ``ShortDetectionTuning/minimumSettling_s`` and both halves change more slowly than
/// ``ShortDetectionTuning/settledFallRate_per_s`` relative to the level (neither still relaxing nor at the turn of a
/// rise and a fall); from then on the settled level follows |V| up (once a rise has lasted eight smoothed samples)
/// and down at no more than that relative rate. A healthy
/// relaxation that has slowed below the rate never speeds up again (any completely monotone decay: exponentials,
/// their mixtures, stretched exponentials, power laws), so it never opens a gap; a short's fall does.
struct SettledLevel: Sendable {
    let tuning: ShortDetectionTuning

    /// Whether the step has settled.
    private(set) var isSettled = false
    /// The settled level, volts (|V|), once settled.
    private(set) var reference_V: Double?
    /// The smoothed |V| (median of the latest five samples).
    private(set) var smoothed_V: Double?
    /// Cell time of the latest sample at (or above) the settled level: a fall began after it.
    private(set) var atReferenceTime_s: Double?
    /// Cell time the step settled.
    private(set) var settledTime_s: Double?

    private var raw = SmallWindow()
    private var smoothedHistory = SmallWindow()
    private var slowMean = 0.0
    private var samples = 0
    private var latestTime_s = 0.0
    private var stepStart_s = 0.0
    /// Means of the smoothed |V| over consecutive blocks of time, the latest ``blockCount`` of them: the rate of
    /// change is fitted to the older and the newer half separately.
    private var blocks = BlockMeans()
    /// Fluctuation of the smoothed |V| about its slow mean while settled and not falling: the wander a total fall
    /// must stand out from (kept only when ``keepsWander``).
    private var wander = RobustScale(capacity: 63)
    /// Whether the owner reads ``wander_V``; a level kept without it (hard-short's) skips that window.
    let keepsWander: Bool
    /// Changes of the raw |V| from sample to sample: their spread is the white noise.
    private var increments = RobustScale(capacity: 31)
    private var previousRaw: Double?

    init(tuning: ShortDetectionTuning, keepsWander: Bool = true) {
        self.tuning = tuning
        self.keepsWander = keepsWander
    }

    mutating func reset(stepStart_s: Double) {
        isSettled = false
        reference_V = nil
        smoothed_V = nil
        atReferenceTime_s = nil
        settledTime_s = nil
        raw = SmallWindow()
        smoothedHistory = SmallWindow()
        samples = 0
        latestTime_s = stepStart_s
        self.stepStart_s = stepStart_s
        blocks = BlockMeans()
        wander.removeAll()
        increments.removeAll()
        previousRaw = nil
        whiteNoise_V = nil
    }

    /// How much the settled level has been lost, as a share of it (0 when not settled or not below it).
    var fall: Double {
        guard let reference_V, let smoothed_V, reference_V > 0 else { return 0 }
        return max(0, (reference_V - smoothed_V) / reference_V)
    }

    /// The fall in volts.
    var fall_V: Double {
        guard let reference_V, let smoothed_V else { return 0 }
        return max(0, reference_V - smoothed_V)
    }

    /// The white noise of one raw sample: the robust spread of the sample-to-sample changes over the square root of
    /// two (a trend, a lag or a slow wander does not enter it); nil until known.
    private(set) var whiteNoise_V: Double?

    /// The robust spread of the smoothed |V| about its slow mean while settled; nil until known. Worked out when
    /// asked: the window changes only while settled and not falling, and a total fall is judged rarely.
    var wander_V: Double? { wander.standardDeviation }

    /// The window the rate is measured over: ``ShortDetectionTuning/settlingWindow_s`` or as many samples, and
    /// longer where noise or the reading's resolution would hide a rate of a quarter of the settled rate in it (a
    /// level read to 1 mV at 12 mV needs about 17 min to show 2 %/min); at most 30 min.
    private func window(interval_s: Double, resolution_V: Double) -> Double {
        let base = max(tuning.settlingWindow_s, Double(tuning.settlingWindowSamples) * interval_s)
        let level = max(abs(slowMean), 1e-9)
        let target = tuning.settledFallRate_per_s / 4
        // A least-squares slope over n samples spanning W has error sigma sqrt(12 / n) / W; readings that do not
        // move can hide a change of one resolution step over the whole window.
        let noise = whiteNoise_V ?? 0
        let relative = noise / (level * target)
        // The cube root only where it can exceed the base (the margin is far beyond the rounding of either side).
        let cube = 12 * interval_s * relative * relative
        let byNoise = cube < base * base * base * (1 - 1e-9) ? 0 : cbrt(cube)
        let byResolution = resolution_V / (level * target)
        return min(1800, max(base, byNoise, byResolution))
    }

    mutating func add(time_s: Double, magnitude: Double, interval_s: Double, resolution_V: Double = 0) {
        guard magnitude.isFinite else { return }
        let step = max(0, time_s - latestTime_s)
        latestTime_s = time_s
        samples += 1
        if let previousRaw {
            increments.add(magnitude - previousRaw)
            whiteNoise_V = increments.standardDeviation.map { $0 / 2.squareRoot() }
        }
        previousRaw = magnitude
        raw.push(magnitude, capacity: 5)
        let smoothed = raw.median
        smoothed_V = smoothed
        smoothedHistory.push(smoothed, capacity: 8)
        let window = window(interval_s: interval_s, resolution_V: resolution_V)
        let slowTime = window / 2
        slowMean = samples == 1 ? smoothed : slowMean + (smoothed - slowMean) * (1 - exp(-step / slowTime))

        if !isSettled {
            blocks.add(time_s: time_s, value: smoothed, blockDuration_s: window / Double(BlockMeans.count))
            let elapsed = time_s - stepStart_s
            guard elapsed >= tuning.minimumSettling_s, samples >= 5, let rates = blocks.relativeRates,
                abs(rates.older) <= tuning.settledFallRate_per_s, abs(rates.newer) <= tuning.settledFallRate_per_s
            else { return }
            isSettled = true
            settledTime_s = time_s
            reference_V = smoothedHistory.minimum
            atReferenceTime_s = time_s
            return
        }
        // Follow |V| down at the settled rate at most, and up once a rise has lasted eight smoothed samples.
        var reference = (reference_V ?? smoothed) * exp(-tuning.settledFallRate_per_s * step)
        reference = max(reference, smoothedHistory.minimum)
        reference_V = reference
        if smoothed >= reference * (1 - 1e-9) { atReferenceTime_s = time_s }
        if keepsWander, fall < tuning.totalFall / 3 { wander.add(smoothed - slowMean) }
    }
}

/// Means over consecutive blocks of time of a series, the latest ``count`` of them, and the relative rate of change
/// of the older and the newer half (least squares on the block means, over the newer half's mean level).
struct BlockMeans: Sendable {
    static let count = 16
    private var times = [Double](repeating: 0, count: BlockMeans.count)
    private var values = [Double](repeating: 0, count: BlockMeans.count)
    private var next = 0
    private var filled = 0
    private var blockStart_s: Double?
    private var sumTime = 0.0
    private var sumValue = 0.0
    private var inBlock = 0

    mutating func add(time_s: Double, value: Double, blockDuration_s: Double) {
        if blockStart_s == nil { blockStart_s = time_s }
        sumTime += time_s
        sumValue += value
        inBlock += 1
        guard time_s - (blockStart_s ?? time_s) >= blockDuration_s * (1 - 1e-9) || blockDuration_s <= 0 else { return }
        times[next] = sumTime / Double(inBlock)
        values[next] = sumValue / Double(inBlock)
        next = (next + 1) % Self.count
        filled = min(filled + 1, Self.count)
        blockStart_s = nil
        sumTime = 0
        sumValue = 0
        inBlock = 0
    }

    /// The relative rates (per second; positive when rising) of the older and newer half, once every block is in.
    var relativeRates: (older: Double, newer: Double)? {
        guard filled == Self.count else { return nil }
        let half = Self.count / 2
        let older = fit(from: 0, count: half)
        let newer = fit(from: half, count: half)
        let level = max(abs(newer.mean), 1e-12)
        return (older.slope / level, newer.slope / level)
    }

    /// Least-squares slope and mean of `count` blocks starting `from` blocks after the oldest.
    private func fit(from start: Int, count: Int) -> (slope: Double, mean: Double) {
        var meanTime = 0.0
        var meanValue = 0.0
        for offset in 0..<count {
            let index = (next + start + offset) % Self.count
            meanTime += times[index]
            meanValue += values[index]
        }
        meanTime /= Double(count)
        meanValue /= Double(count)
        var covariance = 0.0
        var variance = 0.0
        for offset in 0..<count {
            let index = (next + start + offset) % Self.count
            covariance += (times[index] - meanTime) * (values[index] - meanValue)
            variance += (times[index] - meanTime) * (times[index] - meanTime)
        }
        return (variance > 0 ? covariance / variance : 0, meanValue)
    }
}

/// The latest few values (at most eight), for medians and minima of a handful of samples without allocating.
struct SmallWindow: Sendable {
    private var values: (Double, Double, Double, Double, Double, Double, Double, Double) = (0, 0, 0, 0, 0, 0, 0, 0)
    private(set) var count = 0
    private var next = 0

    mutating func push(_ value: Double, capacity: Int) {
        withUnsafeMutableBytes(of: &values) { $0.storeBytes(of: value, toByteOffset: next * 8, as: Double.self) }
        next = (next + 1) % capacity
        count = min(count + 1, capacity)
    }

    private func element(_ index: Int) -> Double {
        withUnsafeBytes(of: values) { $0.load(fromByteOffset: index * 8, as: Double.self) }
    }

    var minimum: Double {
        var lowest = Double.infinity
        for index in 0..<count { lowest = min(lowest, element(index)) }
        return lowest
    }

    /// The upper of the two middle values for an even count (the median for an odd one); 0 when empty.
    var upperMedian: Double { middle(upper: true) }

    /// The median (the lower middle for an even count); 0 when empty.
    var median: Double { middle(upper: false) }

    private func middle(upper: Bool) -> Double {
        guard count > 0 else { return 0 }
        if count == 5 {
            let (a, b, c, d, e, _, _, _) = values
            if !a.isNaN, !b.isNaN, !c.isNaN, !d.isNaN, !e.isNaN { return Self.median(a, b, c, d, e) }
        }
        var sorted: (Double, Double, Double, Double, Double, Double, Double, Double) = values
        return withUnsafeMutableBytes(of: &sorted) { raw in
            let buffer = raw.bindMemory(to: Double.self)
            for index in 1..<count {
                let value = buffer[index]
                var position = index - 1
                while position >= 0, buffer[position] > value {
                    buffer[position + 1] = buffer[position]
                    position -= 1
                }
                buffer[position + 1] = value
            }
            return buffer[upper ? count / 2 : (count - 1) / 2]
        }
    }
    /// The median of five values (none NaN) in six comparisons, without sorting: the least of the first four has
    /// three values above it, so it is not the median; the median is then the second least of the other four.
    private static func median(_ a: Double, _ b: Double, _ c: Double, _ d: Double, _ e: Double) -> Double {
        var (low1, high1) = a <= b ? (a, b) : (b, a)
        var (low2, high2) = c <= d ? (c, d) : (d, c)
        if low2 < low1 { swap(&low1, &low2); swap(&high1, &high2) }
        // low1 is out; the pairs (high1, e) and (low2, high2) hold the other four.
        let (low3, high3) = high1 <= e ? (high1, e) : (e, high1)
        return low3 < low2 ? min(high3, low2) : min(low3, high2)
    }
}
