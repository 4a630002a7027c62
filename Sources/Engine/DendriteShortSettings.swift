import Domain

// What a protocol sets for ``DendriteShortCriterion`` and what the criterion shows of each sample.
extension DendriteShortCriterion {
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
}
