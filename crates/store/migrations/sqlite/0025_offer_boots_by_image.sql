-- The pods reconciler reads one image's boots per pass while pods boot: by image, not a scan.
CREATE INDEX offer_boots_image ON offer_boots (image);
