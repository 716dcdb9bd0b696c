"""``ltnet prepare``: align scans to the atlas and write them on the working grid."""

from __future__ import annotations

import argparse

from ltnet.commands.options import prep_cache, prep_config, prep_options


def add_parser(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser(
        "prepare",
        help="align scans to the atlas and write them on the working grid",
        description="Affinely align each scan to the atlas (ANTs), resample it onto the working grid "
        "and rescale intensities, as train and segment do; write OUT/atlas.nii.gz, "
        "OUT/atlas_labels.nii.gz and OUT/<subject>.nii.gz. Results are cached.",
    )
    r.add_argument("--atlas", required=True, help="atlas image")
    r.add_argument("--atlas-labels", required=True, help="atlas label map")
    r.add_argument("--images", required=True, nargs="+", help="scans, or folders of them")
    r.add_argument("--out", required=True, help="output folder")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    prep_options(r)
    r.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ltnet.io import expand_inputs, subject_names
    from ltnet.trainset import load_train_data, save_prepared

    images = expand_inputs(args.images)
    masks = expand_inputs(args.mask) if args.mask else None
    data = load_train_data(
        args.atlas,
        args.atlas_labels,
        images,
        prep_config(args),
        prep_cache(args),
        masks,
        progress=not args.quiet,
    )
    # named as among all inputs, for the images kept (a copy of the atlas is left out)
    names = dict(zip(map(str, images), subject_names(images), strict=True))
    for p in save_prepared(data, [names[q] for q in data.image_paths], args.out):
        print(p)
    return 0
