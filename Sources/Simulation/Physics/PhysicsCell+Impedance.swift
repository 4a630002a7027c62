import Foundation

extension PhysicsCell {
    /// The small-signal impedance of the cell in its present state, in Ohm, at each frequency (Hz).
    ///
    /// Equivalent circuit: electrolyte R || CPE in series with one interface R || CPE per electrode, the interface
    /// resistance being the linear charge-transfer resistance on the real contact area (so it grows as voids
    /// shrink the contact); an electronic short, when present, lies in parallel with all of it.
    public func impedance(atFrequencies frequencies_Hz: [Double]) -> [Complex] {
        let resistances = elementResistances_Ohm_cm2()
        let area = parameters.electrodeArea_cm2
        let shortConductance = shortConductanceNow_S_cm2
        return frequencies_Hz.map { frequency in
            let omega = 2 * Double.pi * frequency
            let bulk = Self.resistorParallelCPE(
                resistances.bulk, coefficient: parameters.bulkCPE_F_cm2, exponent: parameters.bulkCPEExponent,
                angularFrequency: omega)
            let interfaceCoefficient = parameters.interfaceCPE_F_cm2
            let interfaceExponent = parameters.interfaceCPEExponent
            let workingInterface = Self.resistorParallelCPE(
                resistances.working, coefficient: interfaceCoefficient, exponent: interfaceExponent,
                angularFrequency: omega)
            let counterInterface = Self.resistorParallelCPE(
                resistances.counter, coefficient: interfaceCoefficient, exponent: interfaceExponent,
                angularFrequency: omega)
            var areaSpecific = bulk + workingInterface + counterInterface
            if shortConductance > 0 {
                areaSpecific = (areaSpecific.reciprocal + Complex(real: shortConductance)).reciprocal
            }
            return (1 / area) * areaSpecific
        }
    }

    /// One impedance reading as an analyser gives it: the cell's impedance at `frequency_Hz` with independent
    /// Gaussian noise on its real and imaginary parts of `impedanceNoiseFraction` of its magnitude.
    public mutating func measureImpedance(atFrequency frequency_Hz: Double) -> Complex {
        let exact = impedance(atFrequencies: [frequency_Hz])[0]
        let spread = parameters.impedanceNoiseFraction * exact.magnitude
        guard spread > 0 else { return exact }
        return Complex(
            real: exact.real + spread * impedanceRandom.nextNormal(),
            imaginary: exact.imaginary + spread * impedanceRandom.nextNormal())
    }

    /// R / (1 + R Q (i omega)^a): a resistor in parallel with a constant-phase element (area-specific).
    static func resistorParallelCPE(
        _ resistance: Double, coefficient: Double, exponent: Double, angularFrequency: Double
    ) -> Complex {
        let admittanceOfCPE =
            coefficient * Complex.imaginaryPower(angularFrequency: angularFrequency, exponent: exponent)
        return Complex(real: resistance) / (Complex.one + resistance * admittanceOfCPE)
    }
}
