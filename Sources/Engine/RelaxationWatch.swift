import Domain

/// Decides when a rest's voltage has relaxed: the least-squares slope of the voltage over the trailing `hold_s`
/// of cell time is below `rate_V_s` in magnitude.
///
/// A slope fitted over the whole hold, not a difference of neighbouring samples, so that measurement noise does not
/// keep a relaxed cell from ever meeting a fine threshold (50 uV of noise at 1 s between samples is 3 mV/min from
/// one sample to the next, but about 2 uV/min over a five-minute fit). Running sums keep each sample O(1). The window
/// holds at most ``capacity`` samples: beyond that every other one is dropped and only every second (fourth, ...)
/// sample is taken in, so a long hold at a fast sampling rate cannot exhaust memory.
struct RelaxationWatch: Sendable {
    let rule: RelaxationRule
    static let capacity = 50_000
    /// Take in every `stride`-th sample.
    private var stride = 1
    private var sinceTaken = 0
    private var window: [(time_s: Double, voltage_V: Double)] = []
    private var head = 0
    private var origin_s: Double?
    private var sumT = 0.0
    private var sumV = 0.0
    private var sumTT = 0.0
    private var sumTV = 0.0

    init(_ rule: RelaxationRule) {
        self.rule = rule
    }

    /// Adds a sample; true once the slope over the trailing hold is below the rule's rate.
    mutating func add(time_s: Double, voltage_V: Double) -> Bool {
        guard time_s.isFinite, voltage_V.isFinite else { return false }
        let origin = origin_s ?? time_s
        origin_s = origin
        let t = time_s - origin
        sinceTaken += 1
        guard sinceTaken >= stride else { return false }
        sinceTaken = 0
        window.append((t, voltage_V))
        accumulate(t, voltage_V, sign: 1)
        // Keep exactly the samples within the hold, plus the one that starts it.
        while window.count - head > 2, window[head + 1].time_s <= t - rule.hold_s {
            let old = window[head]
            accumulate(old.time_s, old.voltage_V, sign: -1)
            head += 1
        }
        if head > 4096, head * 2 > window.count {
            window.removeFirst(head)
            head = 0
        }
        if window.count - head > Self.capacity { thin() }
        let count = Double(window.count - head)
        guard count >= 3, t - window[head].time_s >= rule.hold_s * (1 - 1e-9) else { return false }
        let denominator = count * sumTT - sumT * sumT
        guard denominator > 0 else { return false }
        let slope = (count * sumTV - sumT * sumV) / denominator
        return abs(slope) < rule.rate_V_s
    }

    /// Keeps every other sample of the window (the newest among them) and takes in half as many from now on.
    private mutating func thin() {
        let kept = Array(window[head...]).enumerated().filter { ($0.offset - (window.count - head - 1)) % 2 == 0 }
            .map(\.element)
        window = kept
        head = 0
        stride *= 2
        (sumT, sumV, sumTT, sumTV) = (0, 0, 0, 0)
        for sample in window { accumulate(sample.time_s, sample.voltage_V, sign: 1) }
    }

    private mutating func accumulate(_ t: Double, _ v: Double, sign: Double) {
        sumT += sign * t
        sumV += sign * v
        sumTT += sign * t * t
        sumTV += sign * t * v
    }
}
