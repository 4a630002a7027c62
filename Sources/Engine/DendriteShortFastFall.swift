import Domain

/// The fast-fall test of ``DendriteShortCriterion``, for fine sampling: an abrupt short drops |V| by a large share in
/// one sample and keeps it down, so a few samples in a row far below the step's level just before (the median of the
/// latest samples before the first of them, which an isolated glitch does not move) are a short. The samples must
/// also agree with one another: a burst of disturbed readings jumps about, a short's lower level holds.
struct FastFallTest: Sendable {
    let tuning: ShortDetectionTuning
    /// The level before the present run of fallen samples, and how many there have been.
    private(set) var reference_V: Double?
    private(set) var run = 0
    private var lowest_V = 0.0
    private var highest_V = 0.0
    /// The sample before the first fallen one: the short began after it.
    private(set) var startTime_s: Double?
    private var previousTime_s: Double?

    init(tuning: ShortDetectionTuning) {
        self.tuning = tuning
    }

    mutating func reset() {
        reference_V = nil
        run = 0
        startTime_s = nil
        previousTime_s = nil
    }

    /// Takes a judged sample's |V|; true when ``ShortDetectionTuning/fastFallSamples`` in a row have fallen.
    /// `minimumFall_V` is the smallest fall that counts in volts (noise, resolution, protocol).
    mutating func judge(_ observed: Double, time_s: Double, recent: RecentValues, minimumFall_V: Double) -> Bool {
        defer { previousTime_s = time_s }
        guard tuning.fastFall > 0 else { return false }
        if run == 0 {
            let before = recent.latest(tuning.fastFallWindow, skipping: 1)
            guard before.count >= tuning.fastFallWindow else { return false }
            reference_V = median(before)
        }
        guard let reference = reference_V else { return false }
        let fall = reference - observed
        guard fall >= max(tuning.fastFall * reference, minimumFall_V) else {
            run = 0
            return false
        }
        if run == 0 {
            startTime_s = previousTime_s ?? time_s
            lowest_V = observed
            highest_V = observed
        }
        run += 1
        lowest_V = min(lowest_V, observed)
        highest_V = max(highest_V, observed)
        // The fallen samples must hold together: their range within a share of the smallest fall among them.
        guard highest_V - lowest_V <= tuning.fastFallAgreement * (reference - highest_V) else {
            run = 0
            return false
        }
        return run >= tuning.fastFallSamples
    }
}
