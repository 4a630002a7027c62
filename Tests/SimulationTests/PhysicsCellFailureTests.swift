import Domain
import Simulation
import Testing

@Suite("PhysicsCell failures: dendrite shorts and voiding")
struct PhysicsCellFailureTests {
    @Test("step-current CCD on the K preset shorts at the configured CCD, not before, with a visible drop")
    func stepCurrentCCDShortsAtConfiguredDensity() throws {
        let parameters = kPreset()
        let ccd = parameters.dendriteCCD_mA_cm2
        var runner = HalfCycleRunner(parameters)
        let hardShorted: (PhysicsCell) -> Bool = { cell in cell.groundTruth.contains { $0.kind == .hardShort } }
        var readings: [CellReading] = []
        var lastCycleStart_s = 0.0
        var lastCycleDensity = 0.0
        cycles: for cycle in 1..<100 {
            let density = stepCurrentDensity(cycle: cycle)
            lastCycleStart_s = runner.cell.time_s
            lastCycleDensity = density
            for signedDensity in [-density, density] {
                let result = runner.halfCycle(
                    density_mA_cm2: signedDensity, capacity_mAh_cm2: 0.5, recording: density > ccd - 0.5,
                    until: hardShorted)
                readings += result.readings
                if !result.completed { break cycles }
            }
        }

        let initiation = try #require(runner.events(.dendriteInitiation).first)
        let softShort = try #require(runner.events(.softShort).first)
        let hardShort = try #require(runner.events(.hardShort).first)
        #expect(abs(initiation.currentDensity_mA_cm2 - ccd) <= 0.1 + 1e-9)
        #expect(abs(hardShort.currentDensity_mA_cm2 - ccd) <= 0.1 + 1e-9)
        #expect(abs(lastCycleDensity - ccd) <= 0.1 + 1e-9)
        // Nothing dendritic happened before the cycle that failed.
        #expect(initiation.time_s >= lastCycleStart_s)
        #expect(runner.events(.dendriteInitiation).count == 1)
        #expect(initiation.electrode == "WE")
        // Onset, soft short and hard short in order, the hard short tens of seconds to minutes after onset.
        #expect(initiation.time_s < softShort.time_s && softShort.time_s < hardShort.time_s)
        #expect(hardShort.time_s - initiation.time_s > 20 && hardShort.time_s - initiation.time_s < 900)

        // The voltage magnitude falls visibly within a few samples of the onset.
        let onsetIndex = try #require(readings.firstIndex { $0.time_s >= initiation.time_s - 1e-6 })
        let before = readings[(onsetIndex - 3)..<onsetIndex].map { abs($0.voltage_V) }.reduce(0, +) / 3
        let threeSamplesLater = abs(readings[onsetIndex + 3].voltage_V)
        let tenSamplesLater = abs(readings[onsetIndex + 10].voltage_V)
        #expect(before - threeSamplesLater > 0.005)
        #expect(before - tenSamplesLater > 0.02)

        // Soft short: the voltage drops and recovers at least once before the hard short.
        let soft = readings.filter { $0.time_s > softShort.time_s && $0.time_s < hardShort.time_s }
        let preSoft = abs(try #require(readings.last { $0.time_s < softShort.time_s }).voltage_V)
        let deepest = try #require(soft.indices.min { abs(soft[$0].voltage_V) < abs(soft[$1].voltage_V) })
        #expect(abs(soft[deepest].voltage_V) < 0.7 * preSoft)
        #expect(soft.contains { abs($0.voltage_V) > 0.85 * preSoft })

        // Hard short: the voltage collapses towards I * R_short.
        let final = try #require(readings.last)
        let shortResistance_Ohm = parameters.hardShortResistance_Ohm_cm2 / parameters.electrodeArea_cm2
        #expect(abs(final.voltage_V) < 2 * abs(final.current_A) * shortResistance_Ohm + 0.002)
        #expect(abs(final.voltage_V) < 0.05 * before)
    }

    @Test("three-electrode stripping series on the K preset follows seed 000 (flat at 1, slight at 2, voiding at 3)")
    func strippingSeriesFollowsSeed() throws {
        let seedNumbers = [1.0: "flat", 2.0: "43 -> 54", 3.0: "70 -> 120 (strip 1), 149"]
        var rows: [Double: StrippingPolarisation] = [:]
        print("end-of-strip WE-RE polarisation, K | K-beta''-alumina, 2.5 MPa, 20 C, 0.5 mAh/cm2, WE plated first")
        print("j mA/cm2 | early strip 1 | end strip 1 | end strip 25 | seed 000")
        for density in [1.0, 2.0, 3.0] {
            let row = strippingPolarisation(density_mA_cm2: density)
            rows[density] = row
            print(
                "\(density)      | \(millivolts(row.earlyFirst)) mV | \(millivolts(row.endFirst)) mV"
                    + " | \(millivolts(row.endLast)) mV | \(seedNumbers[density] ?? "")")
        }
        let low = try #require(rows[1])
        let middle = try #require(rows[2])
        let high = try #require(rows[3])

        // 1 mA/cm2: flat within the strip and over 25 cycles.
        #expect(abs(low.endFirst - low.earlyFirst) < 0.002)
        #expect(abs(low.endLast - low.endFirst) < 0.002)
        // 2 mA/cm2: a slight rise, in the seed's range of tens of mV.
        #expect(middle.endFirst > 0.035 && middle.endFirst < 0.06)
        #expect(middle.endLast - middle.endFirst > 0.001 && middle.endLast - middle.endFirst < 0.015)
        // 3 mA/cm2: strong rise within the first strip and further over the cycles.
        #expect(high.earlyFirst > 0.05 && high.earlyFirst < 0.08)
        #expect(high.endFirst - high.earlyFirst > 0.035)
        #expect(high.endFirst > 0.1 && high.endFirst < 0.14)
        #expect(high.endLast - high.endFirst > 0.015)
        #expect(high.endLast < 0.2)
        #expect(high.endLast - high.endFirst > 3 * (middle.endLast - middle.endFirst))
    }

    @Test("raising stack pressure raises the stripping current at which voiding begins")
    func pressureRaisesVoidingCurrent() throws {
        var onsets: [Double] = []
        for pressure in [1.5, 2.5, 5.0] {
            var parameters = kPreset().withoutNoise
            parameters.stackPressure_MPa = pressure
            var runner = HalfCycleRunner(parameters)
            var density = 0.2
            while runner.events(.voidingOnset).isEmpty, density < 8 {
                runner.halfCycle(density_mA_cm2: -density, capacity_mAh_cm2: 0.05)
                runner.halfCycle(density_mA_cm2: density, capacity_mAh_cm2: 0.05)
                density += 0.1
            }
            let onset = try #require(runner.events(.voidingOnset).first)
            #expect(runner.events(.dendriteInitiation).isEmpty)
            onsets.append(onset.currentDensity_mA_cm2)
        }
        print("voiding onset at 1.5, 2.5, 5.0 MPa: \(onsets.map { "\(($0 * 10).rounded() / 10)" }) mA/cm2")
        #expect(onsets[0] + 0.2 < onsets[1])
        #expect(onsets[1] + 0.2 < onsets[2])
        // At the preset's own pressure voiding begins near the seed's ~2 mA/cm2.
        #expect(abs(onsets[1] - 2.0) <= 0.2)
    }

    @Test("voids shrink the contact and raise the interfacial resistance; plating and rest under pressure heal them")
    func voidsShrinkContactAndHeal() {
        var runner = HalfCycleRunner(kPreset().withoutNoise)
        runner.halfCycle(density_mA_cm2: 3, capacity_mAh_cm2: 0.3)
        let voided = runner.cell.state
        #expect(voided.workingContactFraction < 0.8)
        #expect(voided.counterContactFraction > 0.99)
        #expect(voided.workingInterfaceResistance_Ohm > 1.2 * voided.counterInterfaceResistance_Ohm)

        runner.halfCycle(density_mA_cm2: -1, capacity_mAh_cm2: 0.05)
        #expect(runner.cell.state.workingContactFraction > 0.99)

        runner.halfCycle(density_mA_cm2: 3, capacity_mAh_cm2: 0.3)
        let voidedAgain = runner.cell.state.workingContactFraction
        runner.hold(density_mA_cm2: 0, duration_s: 600)
        #expect(runner.cell.state.workingContactFraction > voidedAgain + 0.1)
    }
}

/// End-of-strip WE-RE polarisation (V) early in and at the end of strip 1, and at the end of strip 25.
struct StrippingPolarisation {
    var earlyFirst: Double
    var endFirst: Double
    var endLast: Double
}

func strippingPolarisation(density_mA_cm2 density: Double) -> StrippingPolarisation {
    var parameters = kPreset().withoutNoise
    parameters.isThreeElectrode = true
    var runner = HalfCycleRunner(parameters)
    var result = StrippingPolarisation(earlyFirst: 0, endFirst: 0, endLast: 0)
    for cycle in 1...25 {
        runner.halfCycle(density_mA_cm2: -density, capacity_mAh_cm2: 0.5)
        if cycle == 1 {
            runner.halfCycle(density_mA_cm2: density, capacity_mAh_cm2: 0.02)
            result.earlyFirst = runner.lastReading?.voltageWERE_V ?? .nan
            runner.halfCycle(density_mA_cm2: density, capacity_mAh_cm2: 0.48)
            result.endFirst = runner.lastReading?.voltageWERE_V ?? .nan
        } else {
            runner.halfCycle(density_mA_cm2: density, capacity_mAh_cm2: 0.5)
        }
    }
    result.endLast = runner.lastReading?.voltageWERE_V ?? .nan
    return result
}

func millivolts(_ volts: Double) -> String {
    "\((volts * 10_000).rounded() / 10)"
}
