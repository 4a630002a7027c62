import Domain
import ProtocolFiles
import Testing

@Suite("Rig files with a temperature controller")
struct TemperatureControllerRigFileTests {
    private func rig(_ controller: String) -> String {
        """
        schema: 1
        id: oven-1
        cell: {metal: Li, electrolyte: Li6PS5Cl, electrode_area: 0.0314 cm2}
        limits: {voltage: 5 V, current: 20 mA}
        galvanostat: {driver: methodscript, port: /dev/ttyACM0}
        temperature_controller:
        \(controller)
        """
    }

    @Test func presetGivesTheRegisterMapAndKeysOverrideIt() throws {
        let parsed = try RigFile.parse(
            rig(
                """
                  driver: modbus
                  port: /dev/ttyUSB2
                  preset: eurotherm-3200
                  station: 3
                  max_setpoint: 120 C
                  reading_interval: 5 s
                  at_run_end: output-off
                """), file: "oven.yaml")
        let controller = try #require(parsed.temperatureController)
        #expect(controller.preset == .eurotherm3200)
        #expect(controller.processValueRegister == 1 && controller.setpointRegister == 2)
        #expect(controller.outputEnable == .init(register: 273, enabledValue: 0, disabledValue: 2))
        #expect(controller.decimalPlaces == 1 && controller.stationAddress == 3)
        #expect(controller.maximumSetpoint_C == 120 && controller.readingInterval_s == 5)
        #expect(controller.atRunEnd == .outputOff)
        #expect(controller.line == SerialLineConfiguration(port: "/dev/ttyUSB2", baudRate: 9600))
    }

    @Test func aRegisterMapWithoutPreset() throws {
        let parsed = try RigFile.parse(
            rig(
                """
                  driver: modbus
                  port: /dev/ttyUSB2
                  process_value_register: 1000
                  process_value_registers: input
                  setpoint_register: 0
                  output_enable: {register: 50, on: 1, off: 0}
                  decimal_places: 0
                  signed: false
                """), file: "oven.yaml")
        let controller = try #require(parsed.temperatureController)
        #expect(controller.preset == nil && controller.processValueKind == .input)
        #expect(controller.processValueRegister == 1000 && controller.setpointRegister == 0)
        #expect(controller.outputEnable == .init(register: 50, enabledValue: 1, disabledValue: 0))
        #expect(controller.decimalPlaces == 0 && !controller.signed)
        #expect(controller.atRunEnd == .keep, "the default keeps the heater as the run left it")
    }

    @Test(
        "errors name the file, line, key, value and what is allowed",
        arguments: [
            ("  preset: omron", "temperature_controller.preset", "omron", "eurotherm-3200", 9),
            ("  setpoint_register: 2", "temperature_controller", nil, "process_value_register", 7),
            ("  preset: eurotherm-3200\n  decimal_places: 4", "temperature_controller.decimal_places", "4", nil, 10),
            ("  preset: eurotherm-3200\n  max_setpoint: 80", "temperature_controller.max_setpoint", "80", nil, 10),
            ("  preset: eurotherm-3200\n  at_run_end: cool", "temperature_controller.at_run_end", "cool", "keep", 10),
            ("  preset: eurotherm-3200\n  heater: on", "temperature_controller.heater", nil, nil, 10),
        ] as [(String, String, String?, String?, Int)])
    func errors(option: String, key: String, value: String?, allowed: String?, line: Int) throws {
        let text = rig("  driver: modbus\n  port: /dev/ttyUSB2\n" + option)
        do {
            _ = try RigFile.parse(text, file: "t.yaml")
            Issue.record("\(option) must be refused")
        } catch {
            #expect(error.file == "t.yaml")
            #expect(error.key == key, "\(error)")
            #expect(error.line == line, "\(error)")
            if let value { #expect(error.value == value, "\(error)") }
            if let allowed { #expect(error.allowed?.contains(allowed) == true, "\(error)") }
        }
    }

    private func simulatedRig(_ galvanostat: String) -> String {
        """
        schema: 1
        id: oven-sim
        cell: {metal: Li, electrolyte: Li6PS5Cl, electrode_area: 0.785 cm2}
        limits: {voltage: 5 V, current: 50 mA}
        galvanostat:
          driver: simulated
        \(galvanostat)
        """
    }

    @Test func aSimulatedRigMayHaveAHeater() throws {
        let parsed = try RigFile.parse(
            simulatedRig(
                "  model: physics\n  preset: li-lpscl\n  heater: {max_setpoint: 100 C, time_constant: 10 min}"),
            file: "oven-sim.yaml")
        guard case .simulated(let simulated) = parsed.galvanostat else { throw CancellationError() }
        #expect(simulated.heater == SimulatedHeater(maximumSetpoint_C: 100, timeConstant_s: 600))
        #expect(parsed.maximumTemperatureSetpoint_C == 100)
        let unheated = try RigFile.parse(simulatedRig("  model: physics\n  preset: li-lpscl"), file: "plain.yaml")
        #expect(unheated.maximumTemperatureSetpoint_C == nil, "without a heater the rig cannot set the temperature")
    }

    @Test(
        "a heater's errors name the line and key",
        arguments: [
            ("  heater: {max_setpoint: 100 C}", "galvanostat.heater", 7),
            (
                "  model: physics\n  preset: li-lpscl\n  heater: {time_constant: 0.1 s}",
                "galvanostat.heater.time_constant", 9
            ),
            ("  model: physics\n  preset: li-lpscl\n  heater: {power: 50 W}", "galvanostat.heater.power", 9),
        ] as [(String, String, Int)])
    func heaterErrors(galvanostat: String, key: String, line: Int) throws {
        do {
            _ = try RigFile.parse(simulatedRig(galvanostat), file: "t.yaml")
            Issue.record("\(galvanostat) must be refused")
        } catch {
            #expect(error.file == "t.yaml" && error.line == line, "\(error)")
            #expect(error.key == key, "\(error)")
        }
    }
}
