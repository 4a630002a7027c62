import Domain

/// Places an instrument's sample times on the run's clock.
///
/// Normally the run's clock is the instrument's. A reopened instrument's clock starts again from zero (or from
/// wherever it stood), so the first sample after a reopening joins the clocks: it lands at the latest cell time
/// before the loss plus the wall time the instrument was away (at least one sampling interval), and every later
/// sample keeps that offset.
struct RunClock: Sendable {
    let samplingInterval_s: Double
    private var offset_s = 0.0
    /// Set between a reopening and the first sample after it. A reference, so that the clock's layout stays fixed:
    /// `ContinuousClock.Instant` is a resilient type, and holding one inline made every placement go through the
    /// runtime's value witnesses.
    private var join: Join?

    private final class Join: Sendable {
        let latest_s: Double
        let lost: ContinuousClock.Instant

        init(latest_s: Double, lost: ContinuousClock.Instant) {
            self.latest_s = latest_s
            self.lost = lost
        }
    }

    init(samplingInterval_s: Double) {
        self.samplingInterval_s = samplingInterval_s
    }

    /// The instrument was reopened after it went away at `lost`, when the run's latest cell time was `latest_s`.
    mutating func instrumentReopened(latest_s: Double, lost: ContinuousClock.Instant) {
        join = Join(latest_s: latest_s, lost: lost)
    }

    /// `sample` with its time on the run's clock; `now` is when it arrived (asked only after a reopening).
    mutating func place(_ sample: InstrumentSample, now: @autoclosure () -> ContinuousClock.Instant)
        -> InstrumentSample
    {
        if let join, sample.time_s.isFinite {
            let away_s = (now() - join.lost).seconds
            offset_s = join.latest_s + max(away_s, samplingInterval_s) - sample.time_s
            self.join = nil
        }
        var placed = sample
        placed.time_s += offset_s
        return placed
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
