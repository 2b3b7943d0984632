// Opens TIFFs with ImageJ 1.x (the opener Fiji uses for TIFFs) and prints, per file, one JSON line with what ImageJ
// sees: size, slices, bit depth, calibration and one pixel value. Used by test/imagej.test.ts where ImageJ is installed
// (Debian/Ubuntu: `apt-get install imagej`, which provides /usr/share/java/ij.jar).
//   java -Djava.awt.headless=true -cp ij.jar ImageJCheck.java <x> <y> file.tif...
import ij.IJ;
import ij.ImagePlus;
import ij.measure.Calibration;

public class ImageJCheck {
  public static void main(String[] args) {
    int x = Integer.parseInt(args[0]);
    int y = Integer.parseInt(args[1]);
    for (int i = 2; i < args.length; i++) {
      ImagePlus imp = IJ.openImage(args[i]);
      if (imp == null) {
        System.out.println("{\"opened\":false}");
        continue;
      }
      Calibration c = imp.getCalibration();
      System.out.printf(java.util.Locale.ROOT,
          "{\"opened\":true,\"width\":%d,\"height\":%d,\"slices\":%d,\"bitDepth\":%d,\"pixelWidth\":%.9g,\"pixelHeight\":%.9g,\"unit\":\"%s\",\"value\":%.9g}%n",
          imp.getWidth(), imp.getHeight(), imp.getStackSize(), imp.getBitDepth(), c.pixelWidth, c.pixelHeight, c.getUnit(),
          (double) imp.getProcessor().getPixelValue(x, y));
    }
    System.exit(0);
  }
}
